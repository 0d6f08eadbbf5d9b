"""TCP (RFC 9293) for both families; the pieces are listed in protocol.py's neighbours:
seq (sequence arithmetic), isn (initial sequence numbers), handshake (options and MSS),
acceptability (which segments count), retransmit (RFC 6298), congestion (RFC 5681/6582/3042),
sack (RFC 2018), sender and receiver (the two halves of a connection), timers, tcb (state and
output), user_calls (SEND, RECEIVE, CLOSE, ABORT), connection (opening and arriving segments),
listen (passive opens), icmp (errors), protocol (the stack's view).
"""

from stack_under_test.transport.tcp.config import SocketOptions, TCPConfig
from stack_under_test.transport.tcp.connection import Connection
from stack_under_test.transport.tcp.listen import Listener
from stack_under_test.transport.tcp.protocol import TCPProtocol
from stack_under_test.transport.tcp.tcb import State, TCPError

__all__ = ["Connection", "Listener", "SocketOptions", "State", "TCPConfig", "TCPError", "TCPProtocol"]
