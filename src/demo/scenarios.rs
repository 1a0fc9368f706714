//! The demo's config and the scenarios it shows: each a command to paste and the answer
//! palisade must give.

/// The demo's config; `{listen}` and `{upstream}` are filled in at start.
pub(super) const DEMO_CONFIG: &str = r#"
[server]
listen = "{listen}"
upstream = "http://{upstream}"
hosts = ["127.0.0.1", "localhost"]
max_body = "64KiB"
upstream_timeout = "2s"
unmatched = "deny"

[admin]
listen = "127.0.0.1:0"

[[route]]
path = "/api/hello"
methods = ["GET"]
auth = "none"

[[route]]
path = "/api/items/[id]"
methods = ["GET", "PUT"]
auth = "none"

[[route]]
path = "/api/upload"
methods = ["POST"]
auth = "none"
max_body = "1KiB"

[[route]]
path = "/api/slow"
auth = "none"

[auth.cron]
kind = "token"
keys = [{ id = "demo", value = "file:cron.token" }]

[[route]]
path = "/api/cron/[job]"
methods = ["POST"]
auth = "cron"

[[route]]
path = "/api/transfer"
methods = ["POST"]
auth = "none"
body = { type = "object", required = ["amount", "recipientId"], properties = { amount = { type = "integer", minimum = 1, maximum = 10000000 }, recipientId = { type = "string", format = "uuid" }, note = { type = "string", maxLength = 200 } } }

[auth.users]
kind = "jwt"
jwks_file = "jwks.json"
issuer = "https://demo.palisade.local/auth/v1"
audience = "authenticated"
cookie = "sb-demo-auth-token"

[[route]]
path = "/api/me"
methods = ["GET"]
auth = "users"
"#;

/// One demonstrated protection: what to type, and what the answer must be.
pub(super) struct Scenario {
    pub(super) title: &'static str,
    pub(super) curl: &'static str,
    pub(super) request: &'static str,
    pub(super) body: &'static [u8],
    pub(super) status: u16,
    pub(super) absent: &'static [&'static str],
    /// What the upstream's echo must contain (it received these).
    pub(super) present: &'static [&'static str],
}

pub(super) const SCENARIOS: &[Scenario] = &[
    Scenario {
        title: "A public route passes through to the upstream",
        curl: "curl -i http://{addr}/api/hello",
        request: "GET /api/hello",
        body: b"",
        status: 200,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "A path no route matches is denied",
        curl: "curl -i http://{addr}/api/admin",
        request: "GET /api/admin",
        body: b"",
        status: 404,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "A method the route does not list gets 405 and Allow",
        curl: "curl -i -X DELETE http://{addr}/api/hello",
        request: "DELETE /api/hello",
        body: b"",
        status: 405,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "Path traversal with dot segments is refused",
        curl: "curl -i --path-as-is http://{addr}/api/../admin",
        request: "GET /api/../admin",
        body: b"",
        status: 400,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "Encoded traversal is refused too",
        curl: "curl -i http://{addr}/api/items/%2e%2e%2fadmin",
        request: "GET /api/items/%2e%2e%2fadmin",
        body: b"",
        status: 400,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "Next.js's middleware-bypass header and forged identity never reach the app",
        curl: "curl -i -H 'x-middleware-subrequest: middleware' -H 'x-palisade-user: admin' \
               http://{addr}/api/hello",
        request: "GET /api/hello\r\nx-middleware-subrequest: middleware\r\nx-palisade-user: admin",
        body: b"",
        status: 200,
        absent: &["x-middleware-subrequest", "x-palisade-user"],
        present: &[],
    },
    Scenario {
        title: "A forged X-Forwarded-For is replaced by the real client address",
        curl: "curl -i -H 'X-Forwarded-For: 6.6.6.6' http://{addr}/api/hello",
        request: "GET /api/hello\r\nX-Forwarded-For: 6.6.6.6",
        body: b"",
        status: 200,
        absent: &["6.6.6.6"],
        present: &[],
    },
    Scenario {
        title: "A Host the app does not answer to is refused",
        curl: "curl -i -H 'Host: evil.example' http://{addr}/api/hello",
        request: "GET /api/hello\r\nHost: evil.example",
        body: b"",
        status: 421,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "Query parameters only Next.js may set are refused",
        curl: "curl -i 'http://{addr}/api/items/1?nxtPid=admin'",
        request: "GET /api/items/1?nxtPid=admin",
        body: b"",
        status: 400,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "A body over the route's limit gets 413, even without Content-Length",
        curl: "head -c 4096 /dev/zero | curl -i -H 'Transfer-Encoding: chunked' \
               --data-binary @- http://{addr}/api/upload",
        request: "POST /api/upload\r\nTransfer-Encoding: chunked",
        body: CHUNKED_4K,
        status: 413,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "A service route refuses a caller without its token",
        curl: "curl -i -X POST http://{addr}/api/cron/cleanup",
        request: "POST /api/cron/cleanup\r\nContent-Length: 0",
        body: b"",
        status: 401,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "...and one with a wrong token",
        curl: "curl -i -X POST -H 'Authorization: Bearer guess' http://{addr}/api/cron/cleanup",
        request: "POST /api/cron/cleanup\r\nAuthorization: Bearer guess\r\nContent-Length: 0",
        body: b"",
        status: 401,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "The right token is admitted, and the app learns the key id (x-palisade-client)",
        curl: "curl -i -X POST -H 'Authorization: Bearer {token}' http://{addr}/api/cron/cleanup",
        request: "POST /api/cron/cleanup\r\nAuthorization: Bearer {token}\r\nContent-Length: 0",
        body: b"",
        status: 200,
        absent: &[],
        present: &["\"x-palisade-client\":\"demo\""],
    },
    Scenario {
        title: "A user route refuses a request without a token (401, WWW-Authenticate)",
        curl: "curl -i http://{addr}/api/me",
        request: "GET /api/me",
        body: b"",
        status: 401,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "A token signed with another key under the same kid is refused",
        curl: "curl -i -H 'Authorization: Bearer {forged_token}' http://{addr}/api/me",
        request: "GET /api/me\r\nAuthorization: Bearer {forged_token}",
        body: b"",
        status: 401,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "An expired token is refused",
        curl: "curl -i -H 'Authorization: Bearer {expired_token}' http://{addr}/api/me",
        request: "GET /api/me\r\nAuthorization: Bearer {expired_token}",
        body: b"",
        status: 401,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "A valid token with no user (like Supabase's anon key) is refused",
        curl: "curl -i -H 'Authorization: Bearer {anon_token}' http://{addr}/api/me",
        request: "GET /api/me\r\nAuthorization: Bearer {anon_token}",
        body: b"",
        status: 401,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "A valid user token is admitted; the app sees x-palisade-user: demo-user-0001",
        curl: "curl -i -H 'Authorization: Bearer {user_token}' http://{addr}/api/me",
        request: "GET /api/me\r\nAuthorization: Bearer {user_token}",
        body: b"",
        status: 200,
        absent: &[],
        present: &["\"x-palisade-user\":\"demo-user-0001\""],
    },
    Scenario {
        title: "A transfer that matches its schema passes, byte for byte",
        curl: "curl -i -H 'Content-Type: application/json' \
               -d '{\"amount\":100,\"recipientId\":\"6f1c2a3e-7b8d-4e5f-9a0b-1c2d3e4f5a6b\"}' \
               http://{addr}/api/transfer",
        request: "POST /api/transfer\r\nContent-Type: application/json",
        body: br#"{"amount":100,"recipientId":"6f1c2a3e-7b8d-4e5f-9a0b-1c2d3e4f5a6b"}"#,
        status: 200,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "A field the schema does not declare is refused (strict by default)",
        curl: "curl -i -H 'Content-Type: application/json' \
               -d '{\"amount\":100,\"recipientId\":\"6f1c2a3e-7b8d-4e5f-9a0b-1c2d3e4f5a6b\",\"admin\":true}' \
               http://{addr}/api/transfer",
        request: "POST /api/transfer\r\nContent-Type: application/json",
        body:
            br#"{"amount":100,"recipientId":"6f1c2a3e-7b8d-4e5f-9a0b-1c2d3e4f5a6b","admin":true}"#,
        status: 400,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "A duplicate key (the app and the schema could read different values) is refused",
        curl: "curl -i -H 'Content-Type: application/json' \
               -d '{\"amount\":1,\"amount\":9999999,\"recipientId\":\"6f1c2a3e-7b8d-4e5f-9a0b-1c2d3e4f5a6b\"}' \
               http://{addr}/api/transfer",
        request: "POST /api/transfer\r\nContent-Type: application/json",
        body:
            br#"{"amount":1,"amount":9999999,"recipientId":"6f1c2a3e-7b8d-4e5f-9a0b-1c2d3e4f5a6b"}"#,
        status: 400,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "A body that is not JSON gets 415",
        curl: "curl -i -H 'Content-Type: text/plain' -d 'amount=100' http://{addr}/api/transfer",
        request: "POST /api/transfer\r\nContent-Type: text/plain",
        body: b"amount=100",
        status: 415,
        absent: &[],
        present: &[],
    },
    Scenario {
        title: "A slow upstream is cut off with 504",
        curl: "curl -i http://{addr}/api/slow",
        request: "GET /api/slow",
        body: b"",
        status: 504,
        absent: &[],
        present: &[],
    },
];

/// 4 KiB of `x` in one chunk of a chunked body: no `Content-Length` to refuse early.
const CHUNKED_4K: &[u8] = &{
    const HEAD: &[u8] = b"1000\r\n";
    const TAIL: &[u8] = b"\r\n0\r\n\r\n";
    let mut out = [b'x'; HEAD.len() + 4096 + TAIL.len()];
    let mut i = 0;
    while i < HEAD.len() {
        out[i] = HEAD[i];
        i += 1;
    }
    let mut j = 0;
    while j < TAIL.len() {
        out[HEAD.len() + 4096 + j] = TAIL[j];
        j += 1;
    }
    out
};
