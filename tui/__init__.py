"""dockyard's Textual app (the Containers, Images, Layers and Disk panes).

::

    app.py        the App: global keys, command palette, the one error handler
    app.tcss      styles (80x24 first, grows with the terminal)
    config.py     ~/.config/dockyard/config.toml: [keys], refresh_interval, theme
    workers.py    every engine call, each in a thread worker; the live loop
    state.py      what workers fetch, and the messages that carry it
    model.py      engine objects -> rows (cells, sort keys, filter matching)
    plan.py       what rmi will do, for the delete dialog
    panes/        ListPane and the four panes
    screens/      the main screen and the dialogs/views pushed over it
    widgets/      header, pane tabs, bars

The engine never imports this package; ``engine.tui_entry`` calls
:func:`tui.app.run` when ``dockyard`` runs without a command.
"""
