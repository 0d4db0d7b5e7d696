"""The player app's screens: login, home, store, game details, library, lobby, room, my games, review."""
