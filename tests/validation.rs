//! Input validation through the running gateway: the transfer schema of SPEC.md, strict JSON,
//! media types, limits, query and path parameters, and error detail only when exposed.

#![allow(clippy::unwrap_used)]

mod support;

use support::{Gateway, Setup, Upstream};

const ROUTES: &str = r#"
[[route]]
path = "/api/transfer"
methods = ["POST"]
auth = "none"
max_body = "32KiB"
body = { type = "object", required = ["amount", "recipientId"], properties = { amount = { type = "integer", minimum = 1, maximum = 10000000 }, recipientId = { type = "string", format = "uuid" }, note = { type = "string", maxLength = 200 }, meta = { type = "object", properties = { channel = { type = "string" } } } } }

[[route]]
path = "/api/debug-transfer"
methods = ["POST"]
auth = "none"
expose_errors = true
body = { type = "object", required = ["amount"], properties = { amount = { type = "integer" } } }

[[route]]
path = "/api/search"
methods = ["GET"]
auth = "none"
query = { type = "object", properties = { page = { type = "integer", minimum = 1 }, tag = { type = "array", items = { type = "string" } }, exact = { type = "boolean" } } }

[[route]]
path = "/api/orders/[id]"
methods = ["GET"]
auth = "none"
params = { type = "object", properties = { id = { type = "string", format = "uuid" } } }
"#;

const UUID: &str = "6f1c2a3e-7b8d-4e5f-9a0b-1c2d3e4f5a6b";

async fn gateway(upstream: &Upstream) -> Gateway {
    Setup::new(&upstream.url()).tables(ROUTES).start().await
}

/// POSTs `body` with `content_type`, tagged `tag`.
async fn post(
    gateway: &Gateway,
    path: &str,
    content_type: &str,
    body: &[u8],
    tag: &str,
) -> support::RawResponse {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nX-Test-Id: {tag}\r\n{content_type}Content-Length: {}\r\n\r\n",
        gateway.addr,
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    support::raw_request(gateway.addr, &request).await
}

const JSON: &str = "Content-Type: application/json\r\n";

#[tokio::test]
async fn a_valid_body_is_forwarded_byte_for_byte() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let body = format!("{{ \"note\" : \"rent\",\"amount\":100,  \"recipientId\":\"{UUID}\" }}");
    let response = post(
        &gateway,
        "/api/transfer",
        "Content-Type: Application/JSON; charset=UTF-8\r\n",
        body.as_bytes(),
        "ok",
    )
    .await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(upstream.one_tagged("ok").body, body.as_bytes());
}

#[tokio::test]
async fn bodies_the_schema_or_strict_json_refuse_never_reach_the_app() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let nested = "[".repeat(10_000) + &"]".repeat(10_000);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "extra-top",
            format!("{{\"amount\":1,\"recipientId\":\"{UUID}\",\"admin\":true}}").into_bytes(),
        ),
        (
            "extra-nested",
            format!("{{\"amount\":1,\"recipientId\":\"{UUID}\",\"meta\":{{\"x\":1}}}}")
                .into_bytes(),
        ),
        (
            "wrong-type",
            format!("{{\"amount\":\"1\",\"recipientId\":\"{UUID}\"}}").into_bytes(),
        ),
        ("missing", b"{\"amount\":1}".to_vec()),
        (
            "bad-uuid",
            b"{\"amount\":1,\"recipientId\":\"nope\"}".to_vec(),
        ),
        (
            "too-much",
            format!("{{\"amount\":10000001,\"recipientId\":\"{UUID}\"}}").into_bytes(),
        ),
        (
            "dup",
            format!("{{\"amount\":1,\"amount\":9,\"recipientId\":\"{UUID}\"}}").into_bytes(),
        ),
        (
            "dup-escaped",
            format!("{{\"amount\":1,\"\\u0061mount\":9,\"recipientId\":\"{UUID}\"}}").into_bytes(),
        ),
        (
            "proto",
            format!("{{\"amount\":1,\"recipientId\":\"{UUID}\",\"__proto__\":{{}}}}").into_bytes(),
        ),
        (
            "constructor",
            b"{\"constructor\":{\"prototype\":{\"isAdmin\":true}}}".to_vec(),
        ),
        (
            "bom",
            [
                &b"\xEF\xBB\xBF"[..],
                format!("{{\"amount\":1,\"recipientId\":\"{UUID}\"}}").as_bytes(),
            ]
            .concat(),
        ),
        (
            "comment",
            format!("{{\"amount\":1, /* hi */ \"recipientId\":\"{UUID}\"}}").into_bytes(),
        ),
        (
            "trailing-comma",
            format!("{{\"amount\":1,\"recipientId\":\"{UUID}\",}}").into_bytes(),
        ),
        (
            "nan",
            format!("{{\"amount\":NaN,\"recipientId\":\"{UUID}\"}}").into_bytes(),
        ),
        (
            "huge-number",
            format!("{{\"amount\":1e400,\"recipientId\":\"{UUID}\"}}").into_bytes(),
        ),
        ("deep", nested.into_bytes()),
        (
            "not-utf8",
            b"{\"amount\":1,\"recipientId\":\"\xff\xfe\"}".to_vec(),
        ),
        ("empty", Vec::new()),
        (
            "beyond-2^53",
            format!("{{\"amount\":9007199254740993,\"recipientId\":\"{UUID}\"}}").into_bytes(),
        ),
    ];
    for (tag, body) in cases {
        let response = post(&gateway, "/api/transfer", JSON, &body, tag).await;
        response.assert_refused(400, "Invalid input");
        assert!(
            response.json().get("issues").is_none(),
            "{tag}: issues exposed by default"
        );
        upstream.assert_never_saw(tag);
    }
}

#[tokio::test]
async fn thousands_of_unknown_keys_are_refused() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let extra: Vec<String> = (0..2_000).map(|i| format!("\"k{i}\":1")).collect();
    let body = format!(
        "{{\"amount\":1,\"recipientId\":\"{UUID}\",{}}}",
        extra.join(",")
    );
    let response = post(&gateway, "/api/transfer", JSON, body.as_bytes(), "many").await;
    response.assert_refused(400, "Invalid input");
    upstream.assert_never_saw("many");
}

#[tokio::test]
async fn anything_but_json_gets_415() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let body = format!("{{\"amount\":1,\"recipientId\":\"{UUID}\"}}");
    let types = [
        ("text", "Content-Type: text/plain\r\n"),
        (
            "form",
            "Content-Type: application/x-www-form-urlencoded\r\n",
        ),
        (
            "multipart",
            "Content-Type: multipart/form-data; boundary=x\r\n",
        ),
        ("none", ""),
        ("utf7", "Content-Type: application/json; charset=utf-7\r\n"),
        (
            "gzip",
            "Content-Type: application/json\r\nContent-Encoding: gzip\r\n",
        ),
    ];
    for (tag, content_type) in types {
        let response = post(
            &gateway,
            "/api/transfer",
            content_type,
            body.as_bytes(),
            tag,
        )
        .await;
        response.assert_refused(415, "Unsupported media type");
        upstream.assert_never_saw(tag);
    }
}

#[tokio::test]
async fn an_oversized_chunked_body_gets_413() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let chunk = "x".repeat(8192);
    let mut request = format!(
        "POST /api/transfer HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nX-Test-Id: big\r\n{JSON}Transfer-Encoding: chunked\r\n\r\n",
        gateway.addr
    );
    for _ in 0..5 {
        request.push_str(&format!("2000\r\n{chunk}\r\n"));
    }
    request.push_str("0\r\n\r\n");
    let response = support::raw_request(gateway.addr, request.as_bytes()).await;
    response.assert_refused(413, "Payload too large");
    upstream.assert_never_saw("big");
}

#[tokio::test]
async fn exposed_errors_list_json_pointers() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;
    let response = post(
        &gateway,
        "/api/debug-transfer",
        JSON,
        b"{\"amount\":\"x\",\"y\":1}",
        "debug",
    )
    .await;
    assert_eq!(response.status, 400);
    let json = response.json();
    assert_eq!(json["error"], "Invalid input");
    let paths: Vec<&str> = json["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"/amount") && paths.contains(&"/y"),
        "{json}"
    );
    upstream.assert_never_saw("debug");
}

#[tokio::test]
async fn query_and_path_parameters_are_validated() {
    let upstream = Upstream::start().await;
    let gateway = gateway(&upstream).await;

    let ok = gateway
        .get(
            "/api/search?page=2&tag=a&tag=b&exact=true",
            "X-Test-Id: q-ok\r\n",
        )
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(
        upstream.one_tagged("q-ok").target,
        "/api/search?page=2&tag=a&tag=b&exact=true"
    );
    for (tag, query) in [
        ("q-zero", "page=0"),
        ("q-word", "page=two"),
        ("q-unknown", "page=1&admin=1"),
    ] {
        let response = gateway
            .get(
                &format!("/api/search?{query}"),
                &format!("X-Test-Id: {tag}\r\n"),
            )
            .await;
        response.assert_refused(400, "Invalid input");
        upstream.assert_never_saw(tag);
    }

    assert_eq!(
        gateway.get(&format!("/api/orders/{UUID}"), "").await.status,
        200
    );
    let response = gateway.get("/api/orders/42", "X-Test-Id: p-bad\r\n").await;
    response.assert_refused(400, "Invalid input");
    upstream.assert_never_saw("p-bad");
}

mod forwarding {
    //! Any body the schema accepts reaches the app exactly as sent, whatever its spacing, key
    //! order, escapes or characters.

    use proptest::prelude::*;

    use super::{JSON, UUID, gateway, post};
    use crate::support::Upstream;

    /// A transfer body the schema accepts, written in one of many equivalent ways.
    fn transfer() -> impl Strategy<Value = String> {
        let space = prop::sample::select(vec!["", " ", "\n", "\t", "  \r\n "]);
        let note = prop::option::of("[a-zA-Z0-9 éü€\\\\\"/]{0,40}");
        (1i64..=10_000_000, note, space.clone(), space, any::<bool>()).prop_map(
            |(amount, note, a, b, reorder)| {
                let mut fields = vec![
                    format!("{a}\"amount\"{b}:{a}{amount}"),
                    format!("\"recipientId\":{b}\"{UUID}\""),
                ];
                if let Some(note) = note {
                    let escaped = note.replace('\\', "\\\\").replace('"', "\\\"");
                    fields.push(format!("\"note\"{a}:{b}\"{escaped}\""));
                }
                if reorder {
                    fields.reverse();
                }
                format!("{a}{{{}}}{b}", fields.join(&format!("{b},{a}")))
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

        #[test]
        fn accepted_bodies_are_forwarded_unchanged(bodies in prop::collection::vec(transfer(), 8)) {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async {
                let upstream = Upstream::start().await;
                let gateway = gateway(&upstream).await;
                for (i, body) in bodies.iter().enumerate() {
                    let tag = format!("p{i}");
                    let response = post(&gateway, "/api/transfer", JSON, body.as_bytes(), &tag).await;
                    assert_eq!(response.status, 200, "{body:?}: {response:?}");
                    assert_eq!(upstream.one_tagged(&tag).body, body.as_bytes());
                }
            });
        }
    }
}
