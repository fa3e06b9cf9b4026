"""Identity fixtures shared with the tools API tests."""

from tests.auth.conftest import auth, make_user, resources, sign_in

__all__ = ["auth", "make_user", "resources", "sign_in"]
