//! `verify`: tokens that pass, and one test per refusal rule.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use super::*;
use crate::auth::jwt::{DEFAULT_LEEWAY, Rejected, verify};

fn with(claim: &str, value: Value) -> Value {
    let mut claims = claims();
    claims[claim] = value;
    claims
}

fn without(claim: &str) -> Value {
    let mut claims = claims();
    claims.as_object_mut().unwrap().remove(claim);
    claims
}

// === passing tokens ===

#[test]
fn crypto_provider_install_is_idempotent_and_decodes() {
    install_crypto_provider();
    install_crypto_provider();
    let token = token(Algorithm::ES256, Some("ec-1"), &p256(), &claims());
    assert!(verify(&token, &jwks(), &rules()).is_ok());
}

#[test]
fn valid_tokens_pass_for_every_jwks_algorithm() {
    let keys = jwks();
    let cases = [
        (Algorithm::RS256, "rsa-1", rsa()),
        (Algorithm::PS256, "rsa-ps", rsa2()),
        (Algorithm::ES256, "ec-1", p256()),
        (Algorithm::ES384, "ec-384", p384()),
        (Algorithm::EdDSA, "ed-1", ed25519()),
    ];
    for (alg, kid, key) in cases {
        let token = token(alg, Some(kid), &key, &claims());
        let verified = verify(&token, &keys, &rules()).unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(verified.sub(), Some("8a3c6d1e-0000-4000-8000-000000000001"));
        assert_eq!(verified.role(), Some("authenticated"));
        assert_eq!(verified.kid(), Some(kid));
        assert_eq!(verified.algorithm(), alg);
    }
}

#[test]
fn valid_hs256_token_passes_with_secret() {
    let claims = claims();
    let token = token(Algorithm::HS256, None, &hmac(), &claims);
    let verified = verify(&token, &secret_set(), &rules()).unwrap();

    assert_eq!(verified.role(), Some("authenticated"));
    assert_eq!(verified.kid(), None);
    assert_eq!(verified.expires_at(), claims["exp"].as_u64().unwrap());
    assert_eq!(verified.get_path("app_metadata.plan"), Some(&json!("pro")));
    assert_eq!(verified.get_path("app_metadata.nope"), None);
    assert_eq!(verified.get("session_id"), Some(&json!("s-1")));
    assert_eq!(verified.as_map().len(), claims.as_object().unwrap().len());
}

#[test]
fn legacy_secret_token_with_a_kid_passes() {
    // Supabase puts a kid on tokens signed with the legacy secret once signing keys exist.
    let token = token(Algorithm::HS256, Some("legacy-hs256"), &hmac(), &claims());
    assert!(verify(&token, &secret_set(), &rules()).is_ok());
}

#[test]
fn valid_tokens_pass_with_pem_keys() {
    let cases = [
        (RSA_PUB, None, Algorithm::RS256, rsa()),
        (RSA_PKCS1_PUB, None, Algorithm::RS256, rsa()),
        (RSA_PUB, Some(Algorithm::PS256), Algorithm::PS256, rsa()),
        (P256_PUB, None, Algorithm::ES256, p256()),
        (P384_PUB, None, Algorithm::ES384, p384()),
        (ED_PUB, None, Algorithm::EdDSA, ed25519()),
    ];
    for (pem, choice, alg, key) in cases {
        let keys = KeySet::from_public_pem(pem, choice).unwrap();
        let token = token(alg, None, &key, &claims());
        let verified = verify(&token, &keys, &rules()).unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(verified.algorithm(), alg);
    }
}

#[test]
fn merged_set_serves_jwks_and_legacy_secret() {
    let keys = jwks().merge(secret_set()).unwrap();
    let es = token(Algorithm::ES256, Some("ec-1"), &p256(), &claims());
    let hs = token(Algorithm::HS256, None, &hmac(), &claims());
    assert!(verify(&es, &keys, &rules()).is_ok());
    assert!(verify(&hs, &keys, &rules()).is_ok());
}

#[test]
fn keys_without_kid_are_each_tried() {
    let doc = json!({ "keys": [
        jwk(&rsa2(), Algorithm::RS256, None),
        jwk(&rsa(), Algorithm::RS256, None),
    ]});
    let keys = KeySet::from_jwks(doc.to_string().as_bytes()).unwrap();
    let token = token(Algorithm::RS256, None, &rsa(), &claims());
    assert!(verify(&token, &keys, &rules()).is_ok());
}

#[test]
fn audience_and_issuer_are_ignored_when_not_configured() {
    // jsonwebtoken alone would refuse any token with an `aud` when none is expected.
    let token = token(
        Algorithm::HS256,
        None,
        &hmac(),
        &with("iss", json!("elsewhere")),
    );
    assert!(verify(&token, &secret_set(), &Rules::default()).is_ok());
}

// === size and shape ===

#[test]
fn oversized_token_refused_before_parsing() {
    let rules = rules();
    let junk = "x".repeat(rules.max_token_bytes + 1);
    assert_eq!(verify(&junk, &jwks(), &rules), Err(Rejected::TooLarge));

    let token = token(Algorithm::ES256, Some("ec-1"), &p256(), &claims());
    let tight = Rules {
        max_token_bytes: token.len() - 1,
        ..rules
    };
    assert_eq!(verify(&token, &jwks(), &tight), Err(Rejected::TooLarge));
}

#[test]
fn malformed_shapes_refused() {
    let valid = token(Algorithm::HS256, None, &hmac(), &claims());
    let (head, rest) = valid.split_once('.').unwrap();
    let cases = [
        String::new(),
        "abc".to_owned(),
        "a.b".to_owned(),
        "a.b.c.d".to_owned(),
        "..".to_owned(),
        format!(".{rest}"),
        format!("{head}..sig"),
        format!("{valid}.extra"),
        format!("{head}=.{rest}"),
        format!("{head}+.{rest}"),
        "!!!.###.$$$".to_owned(),
        "é.é.é".to_owned(),
        format!("{}.{}.c2ln", b64("not json"), b64("{}")),
        format!("{}.{}.c2ln", b64("[\"alg\"]"), b64("{}")),
        format!("{}.{}.c2ln", b64("{\"alg\":7}"), b64("{}")),
        format!(
            "{}.{}.c2ln",
            b64("{\"alg\":\"HS256\",\"kid\":1}"),
            b64("{}")
        ),
    ];
    for case in cases {
        assert_eq!(
            verify(&case, &secret_set(), &rules()),
            Err(Rejected::Malformed),
            "{case}"
        );
    }
}

#[test]
fn payload_that_is_not_an_object_refused() {
    let token = mint(
        &header("HS256", None),
        &json!([1, 2]),
        &hmac(),
        Algorithm::HS256,
    );
    assert_eq!(
        verify(&token, &secret_set(), &rules()),
        Err(Rejected::Malformed)
    );
}

#[test]
fn duplicate_keys_in_header_or_payload_refused() {
    let raw_header = r#"{"alg":"HS256","alg":"RS256"}"#;
    let raw_claims = format!(r#"{{"exp":{},"sub":"a","sub":"b"}}"#, now() + 600);
    for (h, c) in [
        (raw_header, r#"{"exp":9999999999}"#),
        (r#"{"alg":"HS256"}"#, &raw_claims),
    ] {
        let message = format!("{}.{}", b64(h), b64(c));
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &hmac(), Algorithm::HS256);
        let token = format!("{message}.{}", signature.unwrap());
        assert_eq!(
            verify(&token, &secret_set(), &Rules::default()),
            Err(Rejected::Malformed)
        );
    }
}

// === header ===

#[test]
fn alg_none_refused_in_every_spelling() {
    for spelling in ["none", "None", "NONE", "nOnE"] {
        let message = format!(
            "{}.{}",
            b64(header(spelling, None).to_string()),
            b64(claims().to_string())
        );
        for token in [format!("{message}."), format!("{message}.c2lnbmF0dXJl")] {
            for keys in [jwks(), secret_set()] {
                let refused = verify(&token, &keys, &rules());
                assert_eq!(refused, Err(Rejected::AlgorithmNotAllowed), "{spelling}");
            }
        }
    }
}

#[test]
fn unknown_algorithms_refused() {
    for alg in ["HS1", "ES512", "RSA-OAEP", ""] {
        let message = format!("{}.{}", b64(header(alg, None).to_string()), b64("{}"));
        let token = format!("{message}.c2ln");
        assert_eq!(
            verify(&token, &jwks(), &rules()),
            Err(Rejected::AlgorithmNotAllowed)
        );
    }
}

#[test]
fn remote_key_and_crit_headers_refused() {
    let cases = [
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        (
            "jwk",
            serde_json::to_value(Jwk::from_encoding_key(&p256(), Algorithm::ES256).unwrap())
                .unwrap(),
        ),
        (
            "x5c",
            json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        ),
        ("crit", json!(["exp"])),
        ("crit", json!(["b64"])),
    ];
    for (name, value) in cases {
        let mut header = header("ES256", Some("ec-1"));
        header[name] = value;
        let token = mint(&header, &claims(), &p256(), Algorithm::ES256);
        assert_eq!(
            verify(&token, &jwks(), &rules()),
            Err(Rejected::ForbiddenHeader(name))
        );
    }
}

// === key choice and algorithm pinning ===

#[test]
fn hs256_signed_with_the_public_key_refused() {
    // The classic confusion: the attacker HMACs with the public key bytes the server holds.
    let as_secret = EncodingKey::from_secret(RSA_PUB).unwrap();
    let pem_keys = KeySet::from_public_pem(RSA_PUB, None).unwrap();
    let no_kid = token(Algorithm::HS256, None, &as_secret, &claims());
    assert_eq!(
        verify(&no_kid, &pem_keys, &rules()),
        Err(Rejected::NoKeyForAlgorithm)
    );

    // Naming the RSA key's kid meets the RS256 pin.
    let named = token(Algorithm::HS256, Some("rsa-1"), &as_secret, &claims());
    assert_eq!(
        verify(&named, &jwks(), &rules()),
        Err(Rejected::AlgorithmNotAllowed)
    );

    // The same with an EC key's PEM.
    let as_secret = EncodingKey::from_secret(P256_PUB).unwrap();
    let ec_keys = KeySet::from_public_pem(P256_PUB, None).unwrap();
    let token = token(Algorithm::HS256, None, &as_secret, &claims());
    assert_eq!(
        verify(&token, &ec_keys, &rules()),
        Err(Rejected::NoKeyForAlgorithm)
    );
}

#[test]
fn asymmetric_token_never_meets_an_hmac_key() {
    let rs = token(Algorithm::RS256, None, &rsa(), &claims());
    assert_eq!(
        verify(&rs, &secret_set(), &rules()),
        Err(Rejected::NoKeyForAlgorithm)
    );

    let es = token(Algorithm::ES256, Some("ec-1"), &p256(), &claims());
    assert_eq!(
        verify(&es, &secret_set(), &rules()),
        Err(Rejected::UnknownKid)
    );
}

#[test]
fn header_alg_disagreeing_with_the_jwk_refused() {
    let cases = [
        (Algorithm::PS256, "rsa-1", rsa()),
        (Algorithm::RS384, "rsa-1", rsa()),
        (Algorithm::RS256, "rsa-ps", rsa2()),
        (Algorithm::ES384, "ec-1", p384()),
        (Algorithm::ES256, "ec-384", p256()),
        (Algorithm::ES256, "ed-1", p256()),
    ];
    for (alg, kid, key) in cases {
        let token = token(alg, Some(kid), &key, &claims());
        let refused = verify(&token, &jwks(), &rules());
        assert_eq!(
            refused,
            Err(Rejected::AlgorithmNotAllowed),
            "{alg:?} with {kid}"
        );
    }
}

#[test]
fn header_alg_disagreeing_with_a_pem_key_refused() {
    let keys = KeySet::from_public_pem(RSA_PUB, None).unwrap();
    let token = token(Algorithm::PS256, None, &rsa(), &claims());
    assert_eq!(
        verify(&token, &keys, &rules()),
        Err(Rejected::AlgorithmNotAllowed)
    );

    let keys = KeySet::from_secret(SECRET, Some(Algorithm::HS512)).unwrap();
    let token = super::token(Algorithm::HS256, None, &hmac(), &claims());
    assert_eq!(
        verify(&token, &keys, &rules()),
        Err(Rejected::AlgorithmNotAllowed)
    );
}

#[test]
fn unknown_kid_refused() {
    let token = token(Algorithm::ES256, Some("rotated-away"), &p256(), &claims());
    assert_eq!(verify(&token, &jwks(), &rules()), Err(Rejected::UnknownKid));
}

#[test]
fn token_without_kid_against_named_keys_refused() {
    let token = token(Algorithm::ES256, None, &p256(), &claims());
    assert_eq!(
        verify(&token, &jwks(), &rules()),
        Err(Rejected::NoKeyForAlgorithm)
    );
}

#[test]
fn hmac_token_against_a_public_key_set_asks_for_fallback() {
    // A refetch cannot help: a published key set never holds the secret.
    let token = token(Algorithm::HS256, Some("legacy"), &hmac(), &claims());
    assert_eq!(
        verify(&token, &jwks(), &rules()),
        Err(Rejected::NoKeyForAlgorithm)
    );
}

// === signatures ===

#[test]
fn bad_signatures_refused() {
    let keys = jwks();
    let es = token(Algorithm::ES256, Some("ec-1"), &p256(), &claims());
    let signature = es.rsplit_once('.').unwrap().1;
    let raw = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let cases = [
        (with_signature(&es, ""), Rejected::BadSignature),
        (with_signature(&es, &b64([0u8; 64])), Rejected::BadSignature),
        (with_signature(&es, &b64([0u8; 1])), Rejected::BadSignature),
        (
            with_signature(&es, &b64(&raw[..63])),
            Rejected::BadSignature,
        ),
        (
            with_signature(&es, &b64(&raw[..32])),
            Rejected::BadSignature,
        ),
        (
            with_signature(&es, &b64([&raw[..], &[0]].concat())),
            Rejected::BadSignature,
        ),
        // Dropping one character leaves an impossible base64 length.
        (
            with_signature(&es, &signature[..signature.len() - 1]),
            Rejected::Malformed,
        ),
        (with_signature(&es, "AAAA"), Rejected::BadSignature),
    ];
    for (token, expected) in cases {
        assert_eq!(verify(&token, &keys, &rules()), Err(expected), "{token}");
    }
}

#[test]
fn signature_by_another_key_refused() {
    let forged = token(Algorithm::RS256, Some("rsa-1"), &rsa2(), &claims());
    assert_eq!(
        verify(&forged, &jwks(), &rules()),
        Err(Rejected::BadSignature)
    );

    let other = EncodingKey::from_secret(b"another-secret-that-is-also-32-bytes-long").unwrap();
    let forged = token(Algorithm::HS256, None, &other, &claims());
    assert_eq!(
        verify(&forged, &secret_set(), &rules()),
        Err(Rejected::BadSignature)
    );

    // A signature is bound to its claims: swapping the payload breaks it.
    let genuine = token(Algorithm::ES256, Some("ec-1"), &p256(), &claims());
    let (head, rest) = genuine.split_once('.').unwrap();
    let signature = rest.split_once('.').unwrap().1;
    let swapped = format!(
        "{head}.{}.{signature}",
        b64(with("role", json!("service_role")).to_string())
    );
    assert_eq!(
        verify(&swapped, &jwks(), &rules()),
        Err(Rejected::BadSignature)
    );
}

// === time claims ===

#[test]
fn missing_exp_refused() {
    let token = token(Algorithm::HS256, None, &hmac(), &without("exp"));
    assert_eq!(
        verify(&token, &secret_set(), &rules()),
        Err(Rejected::MissingClaim("exp".into()))
    );
}

#[test]
fn string_or_negative_exp_refused() {
    // jsonwebtoken below 10.3 skipped the check on a string `exp`.
    let far = json!("9999999999");
    let past = json!((now() - 3600).to_string());
    for exp in [far, past, json!(-1), json!(true)] {
        let token = token(Algorithm::HS256, None, &hmac(), &with("exp", exp.clone()));
        let refused = verify(&token, &secret_set(), &rules());
        assert_eq!(refused, Err(Rejected::InvalidClaim("exp".into())), "{exp}");
    }
    let token = token(Algorithm::HS256, None, &hmac(), &with("exp", Value::Null));
    let refused = verify(&token, &secret_set(), &rules());
    assert_eq!(refused, Err(Rejected::MissingClaim("exp".into())));

    // jsonwebtoken's claim reader loses its place on an object or array in a claim it reads.
    for exp in [json!({ "at": 1 }), json!([1])] {
        let token = super::token(Algorithm::HS256, None, &hmac(), &with("exp", exp));
        assert_eq!(
            verify(&token, &secret_set(), &rules()),
            Err(Rejected::Malformed)
        );
    }
}

#[test]
fn expired_token_refused_with_our_leeway() {
    // 45 s ago: inside jsonwebtoken's own 60 s default, outside palisade's 30 s.
    assert_eq!(Rules::default().leeway, DEFAULT_LEEWAY);
    let token = token(
        Algorithm::HS256,
        None,
        &hmac(),
        &with("exp", json!(now() - 45)),
    );
    assert_eq!(
        verify(&token, &secret_set(), &rules()),
        Err(Rejected::Expired)
    );

    let token = super::token(
        Algorithm::HS256,
        None,
        &hmac(),
        &with("exp", json!(now() - 10)),
    );
    assert!(verify(&token, &secret_set(), &rules()).is_ok());
}

#[test]
fn float_exp_accepted() {
    let exp = now() as f64 + 600.5;
    let token = token(Algorithm::HS256, None, &hmac(), &with("exp", json!(exp)));
    let verified = verify(&token, &secret_set(), &rules()).unwrap();
    assert_eq!(verified.expires_at(), exp.round() as u64);
}

#[test]
fn not_yet_valid_refused() {
    let token = token(
        Algorithm::HS256,
        None,
        &hmac(),
        &with("nbf", json!(now() + 120)),
    );
    assert_eq!(
        verify(&token, &secret_set(), &rules()),
        Err(Rejected::NotYetValid)
    );

    let token = super::token(
        Algorithm::HS256,
        None,
        &hmac(),
        &with("nbf", json!(now() + 10)),
    );
    assert!(verify(&token, &secret_set(), &rules()).is_ok());

    let stringy = with("nbf", json!((now() + 3600).to_string()));
    let token = super::token(Algorithm::HS256, None, &hmac(), &stringy);
    let refused = verify(&token, &secret_set(), &rules());
    assert_eq!(refused, Err(Rejected::InvalidClaim("nbf".into())));
}

#[test]
fn issued_in_the_future_refused() {
    let token = token(
        Algorithm::HS256,
        None,
        &hmac(),
        &with("iat", json!(now() + 120)),
    );
    assert_eq!(
        verify(&token, &secret_set(), &rules()),
        Err(Rejected::IssuedInFuture)
    );

    let token = super::token(
        Algorithm::HS256,
        None,
        &hmac(),
        &with("iat", json!(now() + 10)),
    );
    assert!(verify(&token, &secret_set(), &rules()).is_ok());

    let token = super::token(
        Algorithm::HS256,
        None,
        &hmac(),
        &with("iat", json!("yesterday")),
    );
    let refused = verify(&token, &secret_set(), &rules());
    assert_eq!(refused, Err(Rejected::InvalidClaim("iat".into())));
}

#[test]
fn oversized_leeway_is_capped_without_panic() {
    let rules = Rules {
        leeway: Duration::MAX,
        ..rules()
    };
    let token = token(
        Algorithm::HS256,
        None,
        &hmac(),
        &with("exp", json!(now() - 3600)),
    );
    assert_eq!(
        verify(&token, &secret_set(), &rules),
        Err(Rejected::Expired)
    );
}

// === issuer, audience, required claims ===

#[test]
fn issuer_required_and_matched() {
    let cases = [
        (without("iss"), Rejected::MissingClaim("iss".into())),
        (
            with("iss", json!("https://evil.example/auth/v1")),
            Rejected::WrongIssuer,
        ),
        (
            with("iss", json!([ISSUER, "https://evil.example"])),
            Rejected::InvalidClaim("iss".into()),
        ),
        (with("iss", json!(42)), Rejected::InvalidClaim("iss".into())),
        (
            with("iss", Value::Null),
            Rejected::MissingClaim("iss".into()),
        ),
    ];
    for (claims, expected) in cases {
        let token = token(Algorithm::HS256, None, &hmac(), &claims);
        assert_eq!(
            verify(&token, &secret_set(), &rules()),
            Err(expected),
            "{claims}"
        );
    }
}

#[test]
fn audience_required_and_matched() {
    let cases = [
        (without("aud"), Rejected::MissingClaim("aud".into())),
        (with("aud", json!("anon")), Rejected::WrongAudience),
        (
            with("aud", json!(["anon", "other"])),
            Rejected::WrongAudience,
        ),
        (with("aud", json!(7)), Rejected::InvalidClaim("aud".into())),
    ];
    for (claims, expected) in cases {
        let token = token(Algorithm::HS256, None, &hmac(), &claims);
        assert_eq!(
            verify(&token, &secret_set(), &rules()),
            Err(expected),
            "{claims}"
        );
    }

    let listed = with("aud", json!(["other", AUDIENCE]));
    let token = token(Algorithm::HS256, None, &hmac(), &listed);
    assert!(verify(&token, &secret_set(), &rules()).is_ok());
}

#[test]
fn required_claims_enforced() {
    let rules = Rules {
        required_claims: vec!["session_id".into()],
        ..rules()
    };
    let ok = token(Algorithm::HS256, None, &hmac(), &claims());
    assert!(verify(&ok, &secret_set(), &rules).is_ok());

    for claims in [without("session_id"), with("session_id", Value::Null)] {
        let token = token(Algorithm::HS256, None, &hmac(), &claims);
        let refused = verify(&token, &secret_set(), &rules);
        assert_eq!(refused, Err(Rejected::MissingClaim("session_id".into())));
    }
}

#[test]
fn identity_claims_must_be_strings() {
    for (name, value) in [
        ("sub", json!(42)),
        ("role", json!({ "id": 1 })),
        ("role", json!([])),
    ] {
        let token = token(Algorithm::HS256, None, &hmac(), &with(name, value));
        let refused = verify(&token, &secret_set(), &rules());
        assert_eq!(refused, Err(Rejected::InvalidClaim(name.into())));
    }

    // jsonwebtoken's claim reader loses its place on an object where it expects a string.
    let token = token(
        Algorithm::HS256,
        None,
        &hmac(),
        &with("sub", json!({ "id": 1 })),
    );
    assert_eq!(
        verify(&token, &secret_set(), &rules()),
        Err(Rejected::Malformed)
    );
}

#[test]
fn anon_key_shape_verifies_without_subject() {
    // Supabase's anon key is a valid JWT with no user; the gateway, not `verify`, refuses it.
    let anon = json!({ "iss": ISSUER, "aud": AUDIENCE, "role": "anon", "exp": now() + 600 });
    let token = token(Algorithm::HS256, None, &hmac(), &anon);
    let verified = verify(&token, &secret_set(), &rules()).unwrap();
    assert_eq!((verified.sub(), verified.role()), (None, Some("anon")));
}

#[test]
fn reasons_are_snake_case() {
    let all = [
        Rejected::TooLarge,
        Rejected::Malformed,
        Rejected::ForbiddenHeader("jku"),
        Rejected::AlgorithmNotAllowed,
        Rejected::UnknownKid,
        Rejected::NoKeyForAlgorithm,
        Rejected::BadSignature,
        Rejected::Expired,
        Rejected::NotYetValid,
        Rejected::IssuedInFuture,
        Rejected::MissingClaim("x".into()),
        Rejected::InvalidClaim("x".into()),
        Rejected::WrongIssuer,
        Rejected::WrongAudience,
    ];
    for rejected in all {
        let reason = rejected.reason();
        assert!(
            reason.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{reason}"
        );
        assert_eq!(rejected.to_string(), rejected.to_string().to_lowercase());
    }
}
