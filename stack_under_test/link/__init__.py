"""Link endpoints: where frames enter and leave the stack."""
