//! The HTTP client of the CLI: JSON requests to a running mnemo, API errors (the wire's
//! `mnemo_api::ErrorBody`) turned into readable messages (`422 invalid_scope: …`).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use mnemo_api::ErrorBody;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Serialize;
use serde_json::Value;

use crate::config::Config;

/// How long one request may take: an add with the LLM makes up to a few model calls.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A mnemo server at a base URL.
pub struct Remote {
    http: reqwest::Client,
    base: reqwest::Url,
    authorization: Option<HeaderValue>,
}

impl Remote {
    /// `url`, or `http://` + `server.addr` (a wildcard address means this machine).
    pub fn new(
        config: &Config,
        url: Option<&str>,
        api_key: Option<String>,
    ) -> anyhow::Result<Remote> {
        let text = match url {
            Some(url) => url.to_owned(),
            None => default_url(config.server.addr)?,
        };
        let mut base = reqwest::Url::parse(&text)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
            .ok_or_else(|| anyhow!("--url {text:?} is not an http:// or https:// URL"))?;
        // A base behind a path prefix keeps it: paths are joined relative to it.
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let authorization = api_key
            .map(|key| {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
                    .map_err(|_| anyhow!("the API key holds characters a header cannot carry"))?;
                value.set_sensitive(true);
                Ok::<_, anyhow::Error>(value)
            })
            .transpose()?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(mnemo_llm::tls::client_config(base.scheme() == "https")?)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Remote {
            http,
            base,
            authorization,
        })
    }

    /// POSTs `body` as JSON to `path`; the JSON answer, or the API's error as a message.
    pub async fn post(&self, path: &str, body: &impl Serialize) -> anyhow::Result<Value> {
        let url = self
            .base
            .join(path.trim_start_matches('/'))
            .context("bad request path")?;
        let mut request = self.http.post(url.clone()).json(body);
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        let response = request.send().await.map_err(|err| {
            if err.is_connect() {
                anyhow!(
                    "cannot reach mnemo at {}: is `mnemo serve` running there? (or use --local)",
                    self.base
                )
            } else {
                anyhow!("request to {url} failed: {}", error_chain(&err))
            }
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .with_context(|| format!("reading the answer of {url}"))?;
        if status.is_success() {
            return serde_json::from_str(&text)
                .map_err(|_| anyhow!("{url} answered {status} with a body that is not JSON"));
        }
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(ErrorBody { error }) => {
                bail!("{} {}: {}", status.as_u16(), error.code, error.message)
            }
            Err(_) => bail!("{url} answered {status}: {}", text.trim()),
        }
    }
}

/// `http://ADDR` for the configured listen address.
fn default_url(addr: SocketAddr) -> anyhow::Result<String> {
    if addr.port() == 0 {
        bail!(
            "server.addr {addr} has port 0 (picked at start): pass --url with the printed address"
        );
    }
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    Ok(format!("http://{addr}"))
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_urls() {
        let check = |addr: &str, expected: Result<&str, &str>| {
            let got = default_url(addr.parse().unwrap()).map_err(|e| e.to_string());
            match (got, expected) {
                (Ok(url), Ok(want)) => assert_eq!(url, want),
                (Err(err), Err(want)) => assert!(err.contains(want), "{err}"),
                (got, want) => panic!("{addr}: got {got:?}, want {want:?}"),
            }
        };
        check("127.0.0.1:8420", Ok("http://127.0.0.1:8420"));
        check("0.0.0.0:9000", Ok("http://127.0.0.1:9000"));
        check("[::]:9000", Ok("http://[::1]:9000"));
        check("10.1.2.3:80", Ok("http://10.1.2.3:80"));
        check("127.0.0.1:0", Err("port 0"));
    }

    #[test]
    fn urls_are_checked() {
        let config = Config::default();
        for url in ["localhost:8420", "ftp://x", "http://", "not a url"] {
            assert!(Remote::new(&config, Some(url), None).is_err(), "{url}");
        }
        let remote = Remote::new(
            &config,
            Some("https://proxy.example/mnemo"),
            Some("k".into()),
        );
        let url = remote.unwrap().base.join("v1/search").unwrap();
        assert_eq!(url.as_str(), "https://proxy.example/mnemo/v1/search");
        assert!(Remote::new(&config, Some("http://127.0.0.1:1"), Some("bad\nkey".into())).is_err());
    }
}
