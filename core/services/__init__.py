"""Use cases. One public method is one use case in one transaction, audited by the one writer."""
