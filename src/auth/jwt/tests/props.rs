//! Property tests: `verify` never panics, and no single-character change survives.

use jsonwebtoken::Algorithm;
use proptest::prelude::*;

use super::*;
use crate::auth::jwt::verify;

fn everything() -> KeySet {
    jwks().merge(secret_set()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_strings_never_panic(input in any::<String>()) {
        prop_assert!(verify(&input, &everything(), &rules()).is_err());
    }

    #[test]
    fn token_shaped_strings_never_panic(
        input in "[A-Za-z0-9_=+/-]{0,64}\\.[A-Za-z0-9_-]{0,64}\\.[A-Za-z0-9_-]{0,90}",
    ) {
        prop_assert!(verify(&input, &everything(), &rules()).is_err());
    }

    #[test]
    fn arbitrary_headers_never_panic(
        alg in prop_oneof![
            Just("ES256".to_owned()), Just("HS256".to_owned()), Just("none".to_owned()),
            "[A-Za-z0-9]{0,8}",
        ],
        kid in proptest::option::of(prop_oneof![Just("ec-1".to_owned()), "[a-z0-9-]{0,8}"]),
        extra in "[a-z5]{1,4}",
        signature in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let mut header = header(&alg, kid.as_deref());
        header[extra] = serde_json::json!(true);
        let token = format!(
            "{}.{}.{}",
            b64(header.to_string()),
            b64(claims().to_string()),
            b64(signature),
        );
        prop_assert!(verify(&token, &everything(), &rules()).is_err());
    }

    #[test]
    fn any_changed_character_is_refused(
        which in 0usize..2,
        at in any::<prop::sample::Index>(),
        replacement in prop_oneof![
            proptest::char::range('A', 'Z'),
            proptest::char::range('a', 'z'),
            proptest::char::range('0', '9'),
            Just('-'), Just('_'), Just('.'), Just('='), Just('+'), Just(' '), Just('é'),
        ],
    ) {
        let token = match which {
            0 => super::token(Algorithm::ES256, Some("ec-1"), &p256(), &claims()),
            _ => super::token(Algorithm::HS256, None, &hmac(), &claims()),
        };
        prop_assert!(verify(&token, &everything(), &rules()).is_ok());

        let index = at.index(token.len());
        let original = char::from(token.as_bytes()[index]);
        prop_assume!(original != replacement);
        let mut mutated = token[..index].to_owned();
        mutated.push(replacement);
        mutated.push_str(&token[index + 1..]);
        prop_assert!(verify(&mutated, &everything(), &rules()).is_err(), "{mutated}");
    }
}
