"""Create the template database: migrations, the test users and one confidential client (password grant).

Run as `python -m tests.servers.dot_project.setup_db DB USERS PASSWORD CLIENT_ID CLIENT_SECRET` with
DJANGO_SETTINGS_MODULE=tests.servers.dot_project.settings; the launcher copies the file for each server.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str]) -> int:
    db, users, password, client_id, client_secret = argv
    os.environ["TOKENSIM_DOT_DB"] = db
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.servers.dot_project.settings")
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from oauth2_provider.models import get_application_model

    call_command("migrate", verbosity=0, interactive=False)
    hashed = make_password(password)
    User.objects.bulk_create(
        [User(username=f"user{i:04d}", password=hashed, is_active=True) for i in range(int(users))]
    )
    Application = get_application_model()
    Application.objects.create(
        name="tokensim",
        client_id=client_id,
        client_secret=client_secret,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_PASSWORD,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
