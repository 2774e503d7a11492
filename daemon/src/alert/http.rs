//! The HTTP client alert delivery uses (and its tests, to ask Alertmanager what it
//! holds): hyper's, through `hyper-util`'s client, so URL parsing (IPv6 literals
//! included), chunked and length-delimited bodies and connection handling are the
//! same well-tried code axum already runs on the server side.
//!
//! Plain `http://` only: Alertmanager and webhooks sit in the cluster network; TLS
//! belongs to a sidecar or proxy. Every exchange has one deadline covering connect,
//! request, response head and body, and every body read is bounded in bytes, so a
//! receiver that stalls or answers without end costs a failed attempt, not a hung
//! sink or unbounded memory.

use std::fmt;
use std::time::Duration;

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Most bytes read of a response body. Alertmanager answers a POST with an empty
/// body or a one-line error and a webhook with little more; the largest body read
/// is a GET of Alertmanager's alert list, a few KiB per alert.
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// An HTTP failure.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("bad URL {0:?}: expected http://host[:port][/path]")]
    BadUrl(String),
    /// Connecting, sending, or reading the response failed (the cause chain, as
    /// text: hyper's own error says only which step failed).
    #[error("{0}")]
    Request(String),
    #[error("timed out")]
    Timeout,
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
}

impl HttpError {
    fn chain(e: &(dyn std::error::Error + 'static)) -> HttpError {
        let mut text = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        HttpError::Request(text)
    }
}

/// A checked `http://host[:port][/path]`. IPv6 literals are written in brackets
/// (`http://[::1]:9093`), as in any URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    uri: Uri,
}

impl HttpUrl {
    pub fn parse(url: &str) -> Result<HttpUrl, HttpError> {
        let bad = || HttpError::BadUrl(url.to_string());
        let uri: Uri = url.trim().parse().map_err(|_| bad())?;
        if uri.scheme_str() != Some("http") || uri.host().is_none_or(str::is_empty) {
            return Err(bad());
        }
        // `http://host` has no path; requests need one.
        if uri.path_and_query().is_none() {
            return HttpUrl::build(&uri, "/", None).ok_or_else(bad);
        }
        Ok(HttpUrl { uri })
    }

    /// This URL with `suffix` appended to its path (`/api/v2/alerts`).
    pub fn join(&self, suffix: &str) -> HttpUrl {
        let path = format!("{}{}", self.path().trim_end_matches('/'), suffix);
        HttpUrl::build(&self.uri, &path, self.uri.query()).unwrap_or_else(|| self.clone())
    }

    fn build(uri: &Uri, path: &str, query: Option<&str>) -> Option<HttpUrl> {
        let pq = match query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        let authority = uri.authority()?.clone();
        let uri = Uri::builder()
            .scheme("http")
            .authority(authority)
            .path_and_query(pq)
            .build()
            .ok()?;
        Some(HttpUrl { uri })
    }

    /// The host as written (an IPv6 literal keeps its brackets, as in a `Host`
    /// header).
    pub fn host(&self) -> &str {
        self.uri.host().unwrap_or_default()
    }

    pub fn port(&self) -> u16 {
        self.uri.port_u16().unwrap_or(80)
    }

    pub fn path(&self) -> &str {
        self.uri.path()
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.uri.fmt(f)
    }
}

/// A client for one sink: a deadline per exchange, a bound per body.
#[derive(Clone)]
pub struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl HttpClient {
    pub fn new(timeout: Duration) -> HttpClient {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            // A connection per request, as Alertmanager and webhooks are sent to a
            // few times a minute at most: an idle pooled connection would only
            // risk racing the receiver's idle timeout and failing a send.
            .pool_max_idle_per_host(0)
            .build(connector);
        HttpClient { client, timeout }
    }

    /// One exchange: `body` (JSON) sent with `method`; returns the status and the
    /// body, read up to [`MAX_RESPONSE_BYTES`].
    pub async fn request(
        &self,
        method: &str,
        url: &HttpUrl,
        body: Option<&[u8]>,
    ) -> Result<(u16, Vec<u8>), HttpError> {
        tokio::time::timeout(self.timeout, self.exchange(method, url, body))
            .await
            .map_err(|_| HttpError::Timeout)?
    }

    async fn exchange(
        &self,
        method: &str,
        url: &HttpUrl,
        body: Option<&[u8]>,
    ) -> Result<(u16, Vec<u8>), HttpError> {
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|e| HttpError::Request(format!("method {method:?}: {e}")))?;
        let json = HeaderValue::from_static("application/json");
        let req = Request::builder()
            .method(method)
            .uri(url.uri.clone())
            .header(USER_AGENT, HeaderValue::from_static("lookoutd"))
            .header(ACCEPT, json.clone())
            .header(CONTENT_TYPE, json)
            .body(Full::new(Bytes::copy_from_slice(body.unwrap_or_default())))
            .map_err(|e| HttpError::chain(&e))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| HttpError::chain(&e))?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<LengthLimitError>().is_some() {
                    HttpError::TooLarge(MAX_RESPONSE_BYTES)
                } else {
                    HttpError::chain(e.as_ref())
                }
            })?;
        Ok((status, body.to_bytes().to_vec()))
    }
}

/// One exchange with a client of its own (tests and one-off calls).
pub async fn http_request(
    method: &str,
    url: &HttpUrl,
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), HttpError> {
    HttpClient::new(timeout).request(method, url, body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let u = HttpUrl::parse("http://127.0.0.1:9093").unwrap();
        assert_eq!((u.host(), u.port(), u.path()), ("127.0.0.1", 9093, "/"));
        assert_eq!(u.join("/api/v2/alerts").path(), "/api/v2/alerts");
        let u = HttpUrl::parse("http://am.monitoring/x/").unwrap();
        assert_eq!(u.port(), 80);
        assert_eq!(u.join("/api/v2/alerts").path(), "/x/api/v2/alerts");
        assert!(HttpUrl::parse("https://x").is_err());
        assert!(HttpUrl::parse("http://:80").is_err());
    }

    #[test]
    fn ipv6_literals_parse() {
        let u = HttpUrl::parse("http://[::1]:9093/am").unwrap();
        assert_eq!((u.host(), u.port()), ("[::1]", 9093));
        assert_eq!(
            u.join("/api/v2/alerts").to_string(),
            "http://[::1]:9093/am/api/v2/alerts"
        );
    }
}
