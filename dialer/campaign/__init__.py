"""Campaign logic: dispositions, retries, calling windows, the hopper, call states (pure), and the controller (Twisted shell)."""
