"""The anyio runtime: the Bus, its handles, clocks, long polling and the consumer."""
