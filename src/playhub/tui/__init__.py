"""Terminal apps. ``playhub.tui.app.PlayerApp`` is the player's lobby (``playhub play``)."""
