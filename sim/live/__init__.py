"""Live mode: real chargers over OCPP 1.6J and 2.0.1 mirrored into the twin (see docs/live.md).

One setting of the ocpp library applies to the whole room: payloads are validated against the
OCPP JSON schemas on the event loop itself, not in a thread pool (the library's default). The
validation is pure Python and holds the GIL either way, so the thread pool adds no parallelism;
it adds a thread hop and a loop wake-up per message, which at 1,000 chargers cost more than the
validation itself (measured with py-spy: about a third of the server's time).
"""

import ocpp.messages

ocpp.messages.ASYNC_VALIDATION = False
