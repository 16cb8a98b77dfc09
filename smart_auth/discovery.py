"""Discovery documents: what this authorization server really supports.

- SMART configuration: https://hl7.org/fhir/smart-app-launch/conformance.html
- OpenID Provider metadata: https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata
- CapabilityStatement.rest.security: https://hl7.org/fhir/smart-app-launch/conformance.html#declaring-support-for-oauth2-endpoints
"""

from smart_auth.rfc7523 import ALGORITHMS as ASSERTION_ALGORITHMS
from smart_auth.rfc7523 import PRIVATE_KEY_JWT

AUTH_PREFIX = "/auth"
GRANT_TYPES = ["authorization_code", "refresh_token", "client_credentials"]
AUTH_METHODS = [PRIVATE_KEY_JWT, "client_secret_basic", "client_secret_post", "none"]
CAPABILITIES = [
    "launch-ehr",
    "launch-standalone",
    "authorize-post",
    "client-public",
    "client-confidential-symmetric",
    "client-confidential-asymmetric",
    "sso-openid-connect",
    "context-ehr-patient",
    "context-standalone-patient",
    "permission-offline",
    "permission-online",
    "permission-patient",
    "permission-user",
    "permission-v1",
    "permission-v2",
]
SCOPES = [
    "openid",
    "fhirUser",
    "launch",
    "launch/patient",
    "offline_access",
    "online_access",
    "patient/*.cruds",
    "patient/*.rs",
    "user/*.cruds",
    "user/*.rs",
    "system/*.cruds",
    "system/*.rs",
    "patient/*.read",
    "patient/*.write",
    "user/*.read",
    "user/*.write",
    "system/*.read",
    "system/*.write",
]


def endpoints(public_root: str) -> dict:
    base = f"{public_root}{AUTH_PREFIX}"
    return {
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "introspection_endpoint": f"{base}/introspect",
        "revocation_endpoint": f"{base}/revoke",
        "registration_endpoint": f"{base}/register",
        "userinfo_endpoint": f"{base}/userinfo",
        "jwks_uri": f"{base}/jwks",
    }


def smart_configuration(public_root: str) -> dict:
    urls = endpoints(public_root)
    return {
        "issuer": public_root,
        "jwks_uri": urls["jwks_uri"],
        "authorization_endpoint": urls["authorization_endpoint"],
        "grant_types_supported": GRANT_TYPES,
        "token_endpoint": urls["token_endpoint"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "registration_endpoint": urls["registration_endpoint"],
        "userinfo_endpoint": urls["userinfo_endpoint"],
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "introspection_endpoint": urls["introspection_endpoint"],
        "revocation_endpoint": urls["revocation_endpoint"],
        "capabilities": CAPABILITIES,
        "code_challenge_methods_supported": ["S256"],
    }


def openid_configuration(public_root: str) -> dict:
    urls = endpoints(public_root)
    return {
        "issuer": public_root,
        **urls,
        "scopes_supported": ["openid", "fhirUser", *SCOPES[2:]],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": GRANT_TYPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "fhirUser"],
        "code_challenge_methods_supported": ["S256"],
    }


def capability_security(public_root: str) -> dict:
    """CapabilityStatement.rest.security: the SMART oauth-uris extension and service code."""
    urls = endpoints(public_root)
    names = ("authorize", "token", "introspect", "revoke", "register")
    keys = (
        "authorization_endpoint",
        "token_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
        "registration_endpoint",
    )
    return {
        "service": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                        "code": "SMART-on-FHIR",
                    }
                ],
                "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
            }
        ],
        "extension": [
            {
                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                "extension": [
                    {"url": name, "valueUri": urls[key]}
                    for name, key in zip(names, keys, strict=True)
                ],
            }
        ],
    }
