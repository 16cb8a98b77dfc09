"""`fhir-server create-account`: the password from stdin, never from the command line."""

import io
import os
import uuid

import pytest

from carnet.cli import main
from smart_auth.models import Account

PASSWORD = "correct horse battery staple"


@pytest.fixture
def scratch_db(monkeypatch):
    name = f"carnet_cli_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("MONGODB_DB", name)
    yield name
    if os.environ.get("MONGODB_URI"):
        import pymongo

        pymongo.MongoClient(os.environ["MONGODB_URI"]).drop_database(name)


def test_create_account_reads_the_password_from_stdin(scratch_db, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code = main(
        [
            "create-account",
            "--username",
            "alice.martin",
            "--password-stdin",
            "--fhir-user",
            "Patient/p1",
            "--otp-email",
            "alice@example.fr",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "Account 'alice.martin' created for Patient/p1" in out.out
    assert PASSWORD not in out.out + out.err
    account = Account.objects(username="alice.martin").first()
    assert (account.otp_channel, account.otp_address) == ("email", "alice@example.fr")


def test_create_account_refuses_a_short_password(scratch_db, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code = main(
        [
            "create-account",
            "--username",
            "dr.durand",
            "--password-stdin",
            "--fhir-user",
            "Practitioner/10001234567",
            "--otp-sms",
            "+33612345678",
        ]
    )
    assert code == 1
    assert "password: at least 12 characters" in capsys.readouterr().err
