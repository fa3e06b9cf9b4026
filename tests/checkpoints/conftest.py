"""The tasks API's fixtures (the fake LLM, a signed-in user), for tasks that take checkpoints."""

from tests.auth.conftest import auth, make_user, resources, sign_in
from tests.tasks.conftest import api, llm, make_api, settings

__all__ = ["api", "auth", "llm", "make_api", "make_user", "resources", "settings", "sign_in"]
