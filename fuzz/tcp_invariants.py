"""What must hold of the stack's TCP after any input: bounded queues and sane sequence variables.

Returns the problems found (an empty list: none), so the whole-stack fuzz target and the
connection state machine (fuzz/test_tcp_connection.py) report them the same way.
"""

from __future__ import annotations

from stack_under_test.stack.stack import Stack
from stack_under_test.transport.tcp import Connection, State, TCPProtocol, seq


def tcp_problems(stack: Stack) -> list[str]:
    tcp = stack.transport_protocols.get(6)
    if not isinstance(tcp, TCPProtocol):
        return []
    config = tcp.config
    problems = []
    if len(tcp.connections) > config.max_connections:
        problems.append(f"{len(tcp.connections)} connections, above the bound {config.max_connections}")
    time_wait = sum(1 for c in tcp.connections.values() if c.state is State.TIME_WAIT)
    if time_wait != tcp.time_wait_count or time_wait > config.max_time_wait:
        problems.append(f"{time_wait} connections in TIME-WAIT, counted {tcp.time_wait_count}")
    for listener in tcp.listeners.values():
        if len(listener.half_open) > config.syn_queue_len:
            problems.append(f"SYN queue of port {listener.port} holds {len(listener.half_open)}")
        if len(listener.completed) > listener.backlog:
            problems.append(f"accept queue of port {listener.port} holds {len(listener.completed)}")
    for key, conn in tcp.connections.items():
        if conn.key != key or conn.state is State.CLOSED:
            problems.append(f"connection table entry {key!r} is {conn.state.value} or misfiled")
        problems += connection_problems(conn)
    return problems


def connection_problems(conn: Connection) -> list[str]:
    problems = []
    sender, receiver = conn.sender, conn.receiver
    if sender is not None:
        if not (seq.le(sender.snd_una, sender.snd_nxt) and seq.le(sender.snd_nxt, sender.snd_max)):
            problems.append(f"SND.UNA {sender.snd_una} =< snd_nxt {sender.snd_nxt} =< SND.MAX {sender.snd_max} fails")
        if sender.flight >= 1 << 30:
            problems.append(f"flight size {sender.flight} is beyond any window")
        if sender.queued > sender.sndbuf:
            problems.append(f"send buffer holds {sender.queued} octets, above {sender.sndbuf}")
        limit = seq.add(sender.data_end, 1 if sender.fin_queued else 0)
        if sender.syn_acked and seq.gt(sender.snd_max, limit):
            problems.append("SND.MAX lies beyond the data and FIN we have")
    if receiver is not None:
        if len(receiver.ranges) > receiver.max_ranges:
            problems.append(f"out-of-order queue holds {len(receiver.ranges)} ranges")
        # A buffer made smaller keeps the window already offered (it never shrinks), so the bound is
        # the largest buffer the connection ever had.
        if receiver.unread + receiver.ooo_bytes > receiver.largest_rcvbuf:
            problems.append(f"receive side holds {receiver.unread + receiver.ooo_bytes} octets, above the buffer")
        if receiver.window > receiver.largest_rcvbuf:
            problems.append(f"RCV.WND {receiver.window} exceeds the buffer {receiver.largest_rcvbuf}")
        if sum(len(d) for _, _, d in receiver.ranges) != receiver.ooo_bytes:
            problems.append("out-of-order octet count is out of step with the queue")
    return problems
