"""`noema chat`: the Textual app. Build it with `noema_tui.app.factory.create_app`."""
