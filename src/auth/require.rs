//! `require`: claim values a route demands of an authenticated caller (403 without them).
//!
//! Keys are dotted paths into the verified claims (`app_metadata.plan`); values are a string,
//! boolean or number, or a list of accepted ones. A missing claim never satisfies a
//! requirement, and a caller without claims (a service token) satisfies none.

use serde_json::Value;

use super::Identity;
use crate::error::Rejection;

/// The most nesting a claim path may have.
const MAX_PATH_DEPTH: usize = 8;

/// One route's claim requirements, all of which must hold.
#[derive(Debug, Clone, Default)]
pub struct Requirements {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    path: Vec<String>,
    accepted: Vec<Value>,
}

impl Requirements {
    /// Reads a `require` table; errors name the offending key.
    pub fn from_toml(table: &toml::Value) -> Result<Requirements, String> {
        let toml::Value::Table(table) = table else {
            return Err("must be a table such as { role = [\"authenticated\"] }".to_owned());
        };
        let mut rules = Vec::with_capacity(table.len());
        for (key, value) in table {
            let path: Vec<String> = key.split('.').map(str::to_owned).collect();
            if path.iter().any(String::is_empty) || path.len() > MAX_PATH_DEPTH {
                return Err(format!(
                    "`{key}` is not a claim path such as \"app_metadata.plan\""
                ));
            }
            let accepted = match value {
                toml::Value::Array(items) if items.is_empty() => {
                    return Err(format!("`{key}` accepts no value, so no caller could pass"));
                }
                toml::Value::Array(items) => items
                    .iter()
                    .map(|item| scalar(key, item))
                    .collect::<Result<Vec<_>, _>>()?,
                other => vec![scalar(key, other)?],
            };
            rules.push(Rule { path, accepted });
        }
        Ok(Requirements { rules })
    }

    /// Whether a `role` requirement explicitly accepts `role`: the one way a user token
    /// without a subject (an anon or service key) may be admitted.
    pub fn names_role(&self, role: Option<&str>) -> bool {
        let Some(role) = role else { return false };
        self.rules.iter().any(|rule| {
            rule.path == ["role"] && rule.accepted.iter().any(|a| a.as_str() == Some(role))
        })
    }

    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Checks an admitted caller's claims.
    pub fn check(&self, identity: &Identity) -> Result<(), Rejection> {
        if self.rules.is_empty() {
            return Ok(());
        }
        let Some(claims) = &identity.claims else {
            return Err(Rejection::Forbidden("no_claims"));
        };
        for rule in &self.rules {
            let mut value = claims.get(rule.path[0].as_str());
            for segment in &rule.path[1..] {
                value = value.and_then(|v| v.get(segment.as_str()));
            }
            let held = value.is_some_and(|v| rule.accepted.iter().any(|a| same(a, v)));
            if !held {
                return Err(Rejection::Forbidden("claim_requirement"));
            }
        }
        Ok(())
    }
}

/// Compares a required value with a claim: numbers by value, everything else exactly.
fn same(required: &Value, claim: &Value) -> bool {
    match (required, claim) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => required == claim,
    }
}

fn scalar(key: &str, value: &toml::Value) -> Result<Value, String> {
    match value {
        toml::Value::String(s) => Ok(Value::String(s.clone())),
        toml::Value::Boolean(b) => Ok(Value::Bool(*b)),
        toml::Value::Integer(i) => Ok(Value::from(*i)),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| format!("`{key}` holds a number JSON cannot represent")),
        other => Err(format!(
            "`{key}` must be a string, boolean or number, or a list of them, not a {}",
            other.type_str()
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn requirements(text: &str) -> Requirements {
        let value: toml::Value = toml::from_str(&format!("require = {text}")).unwrap();
        Requirements::from_toml(&value["require"]).unwrap()
    }

    fn caller(claims: serde_json::Value) -> Identity {
        let serde_json::Value::Object(map) = claims else {
            panic!("claims must be an object")
        };
        Identity {
            provider: Arc::from("supabase"),
            subject: Some("u1".to_owned()),
            role: None,
            client: None,
            claims: Some(Arc::new(map)),
        }
    }

    #[test]
    fn nested_lists_and_booleans_are_checked() {
        let rules = requirements(
            r#"{ role = ["authenticated"], aal = "aal2", is_anonymous = false,
                "app_metadata.plan" = ["pro", "team"] }"#,
        );
        let ok = serde_json::json!({
            "role": "authenticated", "aal": "aal2", "is_anonymous": false,
            "app_metadata": { "plan": "team" }
        });
        assert!(rules.check(&caller(ok.clone())).is_ok());

        for (path, bad) in [
            ("role", serde_json::json!("anon")),
            ("aal", serde_json::json!("aal1")),
            ("is_anonymous", serde_json::json!(true)),
            ("is_anonymous", serde_json::json!("false")),
        ] {
            let mut claims = ok.clone();
            claims[path] = bad;
            assert!(rules.check(&caller(claims)).is_err(), "{path}");
        }
        let mut claims = ok.clone();
        claims["app_metadata"]["plan"] = serde_json::json!("free");
        assert!(rules.check(&caller(claims)).is_err());
        let mut claims = ok;
        claims.as_object_mut().unwrap().remove("app_metadata");
        assert!(
            rules.check(&caller(claims)).is_err(),
            "a missing claim never passes"
        );
    }

    #[test]
    fn a_service_token_meets_no_requirement() {
        let rules = requirements(r#"{ role = "service" }"#);
        let mut identity = caller(serde_json::json!({}));
        identity.claims = None;
        assert!(rules.check(&identity).is_err());
        assert!(Requirements::default().check(&identity).is_ok());
    }

    #[test]
    fn bad_tables_are_config_errors() {
        for text in [
            r#"{ role = [] }"#,
            r#"{ "a..b" = 1 }"#,
            r#"{ role = { x = 1 } }"#,
        ] {
            let value: toml::Value = toml::from_str(&format!("require = {text}")).unwrap();
            assert!(
                Requirements::from_toml(&value["require"]).is_err(),
                "{text}"
            );
        }
    }
}
