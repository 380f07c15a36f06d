"""Deals: terms, confirmations, the stage machine and its trail."""
