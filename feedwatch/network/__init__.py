"""Who amplifies whom: the channel graph, channel discovery, and echoes of a text across channels.

    graph = build_graph(store.db.conn, Window(since, until))
    write_graph(graph, "gexf", "channels.gexf")
    for lead in discover(graph, min_channels=2): ...

`refs` reads the channels a post points at (forwards, mentions, t.me links);
`graph` turns them into a networkx graph; `discover` ranks the channels the
monitored ones point at; `echoes` finds passages that reappear in other channels.
"""
