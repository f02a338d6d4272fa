"""The REST API of a live site (``feedertwin live --api HOST:PORT``; docs/api.md).

``create_app(live_app, tokens)`` builds the FastAPI app; ``ApiServer`` serves it with uvicorn in
the live process's own event loop; ``require_scope("control")`` is the dependency for actions
(it gives the caller's token name; document its errors with ``problem_responses(401, 403)``
and raise ``ApiProblem`` for a refusal, e.g. 409 when a charger rejects the call); tokens are in ``sim.api.tokens``. The API reads the live
objects and the store; it never imports the simulator (``sim.engine``, simpy).
"""

from sim.api.app import close_app, create_app
from sim.api.auth import require_scope
from sim.api.problems import ApiProblem, problem_responses
from sim.api.serve import ApiServer

__all__ = ["ApiProblem", "ApiServer", "close_app", "create_app", "problem_responses", "require_scope"]
