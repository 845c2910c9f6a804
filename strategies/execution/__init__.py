"""Execution parts shared by strategies: the order-intent lifecycle, the order manager, the lease
fence, reconciliation and the market view (docs/design.md section 4, "execution parts")."""
