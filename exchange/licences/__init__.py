"""Express licences: an offer's licence terms taken online in one step, as a deal already agreed."""
