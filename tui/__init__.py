"""dockyard's Textual app (the Containers, Images, Layers and Disk panes)."""
