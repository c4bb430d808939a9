"""How the CLI reaches the servers: TLS (``--tls-ca``, mTLS ``--tls-cert/--tls-key``) and the
bearer token (``$FITREP_TOKEN`` or ``--token-file``; ``--token`` works but shows in ``ps``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from fitrep.domain import InvalidInput

Token = Annotated[
    str | None,
    typer.Option(
        envvar="FITREP_TOKEN",
        help="Bearer token (default $FITREP_TOKEN; prefer it or --token-file: argv shows in ps).",
    ),
]
TokenFile = Annotated[Path | None, typer.Option(help="File holding the bearer token.")]
TlsCa = Annotated[Path | None, typer.Option(help="PEM CA of the servers' certificates: TLS.")]
TlsCert = Annotated[Path | None, typer.Option(help="PEM client certificate (mTLS).")]
TlsKey = Annotated[Path | None, typer.Option(help="PEM client private key (mTLS).")]


def _read(path: Path, flag: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInput(flag, f"{path}: {exc.strerror}") from None


@dataclass
class Connection:
    token: str | None = None
    token_file: Path | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def tls(self) -> bool:
        return self.tls_ca is not None or self.tls_cert is not None

    def resolved_token(self) -> str | None:
        if self.token_file is not None:
            token = _read(self.token_file, "--token-file").decode().strip()
            if not token:
                raise InvalidInput("--token-file", f"{self.token_file} is empty")
            return token
        return self.token or None

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``Client`` for these settings."""
        if (self.tls_cert is None) != (self.tls_key is None):
            raise InvalidInput("--tls-cert", "--tls-cert and --tls-key go together")
        kwargs: dict[str, Any] = {"token": self.resolved_token()}
        if self.tls_ca is not None:
            kwargs["root_certificates"] = _read(self.tls_ca, "--tls-ca")
        if self.tls_cert is not None and self.tls_key is not None:
            kwargs["certificate_chain"] = _read(self.tls_cert, "--tls-cert")
            kwargs["private_key"] = _read(self.tls_key, "--tls-key")
        return kwargs

    def unreachable(self, addresses: str) -> str:
        if self.tls:
            return (
                f"cannot reach the server(s) at {addresses} over TLS; is --tls-ca the CA that "
                "signed their certificates, and does the address match the certificate's name?"
            )
        return (
            f"cannot reach the server(s) at {addresses}; is `fitrep serve` running? "
            "(a TLS server needs --tls-ca)"
        )
