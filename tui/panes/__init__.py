"""The four panes (Containers, Images, Layers, Disk), each a ListPane."""
