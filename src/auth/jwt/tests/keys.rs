//! `KeySet`: loading, pinning, skipping and bounds.

use jsonwebtoken::Algorithm;
use serde_json::json;

use super::*;
use crate::auth::jwt::{KeyError, MAX_JWKS_BYTES, MAX_JWKS_KEYS, SkippedKey};

fn pinned(keys: &KeySet) -> Vec<(Option<&str>, Algorithm)> {
    keys.keys()
        .map(|key| (key.kid(), key.algorithm()))
        .collect()
}

#[test]
fn jwks_pins_algorithms_from_alg_or_key_type() {
    let mut rsa_ps = jwk(&rsa(), Algorithm::RS256, Some("ps"));
    rsa_ps["alg"] = json!("PS256");
    let mut bare_rsa = jwk(&rsa(), Algorithm::RS256, Some("rs"));
    let mut bare_ec = jwk(&p384(), Algorithm::ES384, Some("ec"));
    let mut bare_ed = jwk(&ed25519(), Algorithm::EdDSA, Some("ed"));
    let mut fully_specified_ed = jwk(&ed25519(), Algorithm::EdDSA, Some("ed2"));
    fully_specified_ed["alg"] = json!("Ed25519");
    for bare in [&mut bare_rsa, &mut bare_ec, &mut bare_ed] {
        bare.as_object_mut().unwrap().remove("alg");
    }
    let doc = json!({ "keys": [rsa_ps, bare_rsa, bare_ec, bare_ed, fully_specified_ed] });

    let keys = KeySet::from_jwks(doc.to_string().as_bytes()).unwrap();
    let expected = [
        (Some("ps"), Algorithm::PS256),
        (Some("rs"), Algorithm::RS256),
        (Some("ec"), Algorithm::ES384),
        (Some("ed"), Algorithm::EdDSA),
        (Some("ed2"), Algorithm::EdDSA),
    ];
    assert_eq!(pinned(&keys), expected);
    assert!(keys.skipped().is_empty());
    assert_eq!(keys.len(), 5);
    assert!(keys.contains_kid("ec") && !keys.contains_kid("nope"));
}

#[test]
fn jwks_skips_unusable_keys_and_reports_them() {
    let mut enc = jwk(&rsa(), Algorithm::RS256, Some("enc"));
    enc["use"] = json!("enc");
    let mut wrong_alg = jwk(&p256(), Algorithm::ES256, Some("wrong-alg"));
    wrong_alg["alg"] = json!("ES384");
    let mut rsa_as_ec = jwk(&rsa(), Algorithm::RS256, Some("rsa-as-es"));
    rsa_as_ec["alg"] = json!("ES256");
    let mut private = jwk(&p256(), Algorithm::ES256, Some("private"));
    private["d"] = json!("c2VjcmV0");
    let mut encrypt_only = jwk(&p256(), Algorithm::ES256, Some("ops"));
    encrypt_only["key_ops"] = json!(["encrypt"]);
    let mut short_point = jwk(&p256(), Algorithm::ES256, Some("short"));
    short_point["x"] = json!("AAAA");
    let doc = json!({ "keys": [
        jwk(&p256(), Algorithm::ES256, Some("good")),
        { "kty": "oct", "kid": "hs", "k": b64(SECRET), "alg": "HS256" },
        enc,
        { "kty": "EC", "kid": "p521", "crv": "P-521", "x": "AA", "y": "AA" },
        { "kty": "OKP", "kid": "ed448", "crv": "Ed448", "x": "AA" },
        { "kty": "XYZ", "kid": "weird" },
        wrong_alg,
        rsa_as_ec,
        private,
        encrypt_only,
        short_point,
        jwk(&p384(), Algorithm::ES384, Some("good")),
        "not an object",
    ]});

    let keys = KeySet::from_jwks(doc.to_string().as_bytes()).unwrap();
    assert_eq!(pinned(&keys), [(Some("good"), Algorithm::ES256)]);
    let skipped: Vec<(Option<&str>, &str)> = keys
        .skipped()
        .iter()
        .map(|s| (s.kid.as_deref(), s.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            (Some("hs"), "symmetric key in a key set"),
            (Some("enc"), "use is not sig"),
            (Some("p521"), "unsupported curve"),
            (Some("ed448"), "unsupported curve"),
            (Some("weird"), "unsupported kty"),
            (Some("wrong-alg"), "alg does not match kty/crv"),
            (Some("rsa-as-es"), "alg does not match kty/crv"),
            (Some("private"), "private key material in a key set"),
            (Some("ops"), "key_ops lacks verify"),
            (Some("short"), "bad ec coordinate length"),
            (Some("good"), "duplicate kid"),
            (None, "not an object"),
        ]
    );
}

#[test]
fn jwks_refuses_weak_rsa_moduli() {
    let mut weak = jwk(&rsa(), Algorithm::RS256, Some("weak"));
    weak["n"] = json!(b64([0xffu8; 128]));
    let doc = json!({ "keys": [weak, jwk(&p256(), Algorithm::ES256, Some("ok"))] });
    let keys = KeySet::from_jwks(doc.to_string().as_bytes()).unwrap();
    let expected = SkippedKey {
        kid: Some("weak".into()),
        reason: "rsa modulus outside 2048..=8192 bits",
    };
    assert_eq!(keys.skipped(), [expected]);
}

#[test]
fn jwks_bounds_and_shape_enforced() {
    let big = vec![b' '; MAX_JWKS_BYTES + 1];
    assert!(matches!(
        KeySet::from_jwks(&big),
        Err(KeyError::JwksTooLarge { .. })
    ));

    let many: Vec<_> = (0..=MAX_JWKS_KEYS)
        .map(|i| json!({ "kty": "oct", "kid": i }))
        .collect();
    let doc = json!({ "keys": many }).to_string();
    assert!(matches!(
        KeySet::from_jwks(doc.as_bytes()),
        Err(KeyError::TooManyKeys { .. })
    ));

    assert!(matches!(
        KeySet::from_jwks(b"{"),
        Err(KeyError::InvalidJson(_))
    ));
    assert!(matches!(
        KeySet::from_jwks(b"[]"),
        Err(KeyError::NotAKeySet)
    ));
    assert!(matches!(
        KeySet::from_jwks(br#"{"keys":{}}"#),
        Err(KeyError::NotAKeySet)
    ));

    let only_secret = json!({ "keys": [{ "kty": "oct", "k": b64(SECRET) }] }).to_string();
    let refused = KeySet::from_jwks(only_secret.as_bytes());
    assert!(matches!(
        refused,
        Err(KeyError::NoUsableKeys { skipped: 1 })
    ));
    assert!(matches!(
        KeySet::from_jwks(br#"{"keys":[]}"#),
        Err(KeyError::NoUsableKeys { .. })
    ));
}

#[test]
fn pem_keys_pin_by_type_and_refuse_misfits() {
    let cases = [
        (RSA_PUB, Algorithm::RS256),
        (RSA_PKCS1_PUB, Algorithm::RS256),
        (P256_PUB, Algorithm::ES256),
        (P384_PUB, Algorithm::ES384),
        (ED_PUB, Algorithm::EdDSA),
    ];
    for (pem, alg) in cases {
        assert_eq!(
            pinned(&KeySet::from_public_pem(pem, None).unwrap()),
            [(None, alg)]
        );
    }

    let misfits = [
        (RSA_PUB, Algorithm::HS256),
        (RSA_PUB, Algorithm::ES256),
        (P256_PUB, Algorithm::ES384),
        (P256_PUB, Algorithm::RS256),
        (ED_PUB, Algorithm::ES256),
    ];
    for (pem, alg) in misfits {
        let refused = KeySet::from_public_pem(pem, Some(alg));
        assert!(
            matches!(refused, Err(KeyError::AlgorithmMismatch { .. })),
            "{alg:?}"
        );
    }
}

#[test]
fn pem_refuses_private_weak_and_garbage() {
    for private in [RSA_KEY, P256_KEY, ED_KEY] {
        let refused = KeySet::from_public_pem(private, None);
        assert!(matches!(refused, Err(KeyError::PrivateKeyPem)));
    }
    let weak = KeySet::from_public_pem(RSA1024_PUB, None);
    assert!(matches!(weak, Err(KeyError::WeakRsaKey { bits: 1024 })));

    let garbage: [&[u8]; 4] = [
        b"",
        b"not a pem",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ];
    for pem in garbage {
        assert!(matches!(
            KeySet::from_public_pem(pem, None),
            Err(KeyError::InvalidPem)
        ));
    }
}

#[test]
fn secrets_need_32_bytes_and_an_hmac_algorithm() {
    let short = KeySet::from_secret(&SECRET[..31], None);
    assert!(matches!(short, Err(KeyError::SecretTooShort { min: 32 })));
    assert!(matches!(
        KeySet::from_secret(b"", None),
        Err(KeyError::SecretTooShort { .. })
    ));

    let rsa = KeySet::from_secret(SECRET, Some(Algorithm::RS256));
    assert!(matches!(rsa, Err(KeyError::AlgorithmMismatch { .. })));

    let hs512 = KeySet::from_secret(SECRET, Some(Algorithm::HS512)).unwrap();
    assert_eq!(pinned(&hs512), [(None, Algorithm::HS512)]);
    let token = token(Algorithm::HS512, None, &hmac(), &claims());
    assert!(crate::auth::jwt::verify(&token, &hs512, &rules()).is_ok());
}

#[test]
fn merge_refuses_duplicate_kids() {
    let refused = jwks().merge(jwks());
    assert!(matches!(refused, Err(KeyError::DuplicateKid { kid }) if kid == "rsa-1"));
    assert_eq!(jwks().merge(secret_set()).unwrap().len(), 6);
}

#[test]
fn debug_shows_no_key_material() {
    let secret_text = std::str::from_utf8(SECRET).unwrap();
    let debug = format!("{:?}", jwks().merge(secret_set()).unwrap());
    assert!(debug.contains("rsa-1") && debug.contains("ES256"));
    assert!(!debug.contains(secret_text));

    let jwk = jwk(&rsa(), Algorithm::RS256, Some("rsa-1"));
    let modulus_start = &jwk["n"].as_str().unwrap()[..16];
    assert!(!debug.contains(modulus_start));
    let bytes_as_debug = format!("{:?}", &SECRET[..8]);
    assert!(!debug.contains(&bytes_as_debug[1..bytes_as_debug.len() - 1]));
}

#[test]
fn key_errors_name_no_secret() {
    let message = KeySet::from_secret(&SECRET[..31], None)
        .unwrap_err()
        .to_string();
    assert!(!message.contains(std::str::from_utf8(&SECRET[..31]).unwrap()));
    assert_eq!(message, message.to_lowercase());
}
