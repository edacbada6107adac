"""The ledger (台账): what a pilot is, as its office writes it down and as it is stored."""
