"""Auctions of published offers: english and sealed-bid, closed by themselves into an agreed deal."""
