"""Authentication: who is calling (Principal), how tokens are checked and minted, and how often they may call."""
