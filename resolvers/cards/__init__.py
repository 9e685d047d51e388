"""modelCard: a model version's card, in typed sections."""
