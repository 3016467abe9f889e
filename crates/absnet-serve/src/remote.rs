//! Remote images for thumbor-style URLs (`GET /unsafe/300x200/smart/https://HOST/photo.jpg`),
//! fetched only from the hosts the operator lists, and with the guards of a public image
//! service: every address a name resolves to must be a public one (no loopback, private,
//! link-local, shared, multicast or reserved address, IPv4-mapped forms included) and the
//! connection goes to an address that was checked, so a name that re-resolves elsewhere (DNS
//! rebinding) is not followed; no proxy from the environment; redirects are not followed; the
//! body is capped and the whole fetch has a deadline.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// Which remote images a service fetches, and the HTTP client that fetches them (made once,
/// shared by every request: its TLS roots and connection pool are not rebuilt per image).
#[derive(Clone, Debug)]
pub struct Remote {
    hosts: Vec<HostPattern>,
    timeout: Duration,
    agent: ureq::Agent,
}

impl Remote {
    /// How long a fetch may take unless the service says otherwise.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

    /// `hosts`: where images may come from (empty: nothing remote is fetched);
    /// `private_addresses`: also fetch from private and loopback addresses (an image store on
    /// the service's own network); `timeout`: the longest a fetch may take, connecting and
    /// reading included.
    pub fn new(hosts: Vec<HostPattern>, private_addresses: bool, timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .proxy(None)
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("absnet/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::with_parts(
            config,
            DefaultConnector::default(),
            PublicResolver { private_addresses },
        );
        Self {
            hosts,
            timeout,
            agent,
        }
    }
}

impl Default for Remote {
    fn default() -> Self {
        Self::new(Vec::new(), false, Self::DEFAULT_TIMEOUT)
    }
}

/// Why a remote image was not fetched.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "{url}: remote images are not fetched; serve files under --image-root, or start the service with --allow-remote HOST"
    )]
    Disabled { url: String },
    #[error("{url}: not an http or https URL with a host")]
    Malformed { url: String },
    #[error("{url}: {host} is not among the hosts the service fetches from (--allow-remote)")]
    HostNotAllowed { url: String, host: String },
    #[error("{url}: {host} resolves to {address}, {kind}; only public addresses are fetched")]
    AddressNotPublic {
        url: String,
        host: String,
        address: IpAddr,
        kind: &'static str,
    },
    #[error("{url}: no answer within {seconds} s")]
    Timeout { url: String, seconds: f64 },
    #[error("{url}: the image is over the limit of {limit} bytes")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: the server answered {status}{}", if *.redirect { " (a redirect; redirects are not followed)" } else { "" })]
    Status {
        url: String,
        status: u16,
        redirect: bool,
    },
    #[error("{url}: {message}")]
    Unreachable { url: String, message: String },
}

/// What kind of non-public address `ip` is, or `None` for a public one.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => non_public_v4(v4),
            None => non_public_v6(v6),
        },
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        () if ip.is_loopback() => "a loopback address",
        () if ip.is_private() => "a private address",
        () if ip.is_link_local() => "a link-local address",
        () if ip.is_unspecified() || a == 0 => "an unspecified address",
        () if a == 100 && (64..128).contains(&b) => "a shared (carrier-grade NAT) address",
        () if ip.is_multicast() || ip.is_broadcast() || a >= 240 => {
            "a multicast or reserved address"
        }
        () if ip.is_documentation() || (a == 198 && (18..20).contains(&b)) => {
            "a documentation or benchmarking address"
        }
        () if a == 192 && b == 0 && c == 0 => "an IETF protocol address",
        () => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(match () {
        () if ip.is_loopback() => "a loopback address",
        () if ip.is_unspecified() => "an unspecified address",
        () if ip.is_multicast() => "a multicast address",
        () if first & 0xfe00 == 0xfc00 => "a unique local (private) address",
        () if first & 0xffc0 == 0xfe80 => "a link-local address",
        () if first == 0x2001 && ip.segments()[1] == 0x0db8 => "a documentation address",
        // NAT64 (64:ff9b::/96) carries an IPv4 address: judge that one.
        () if ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => {
            let [.., a, b, c, d] = ip.octets();
            return non_public_v4(Ipv4Addr::new(a, b, c, d));
        }
        () => return None,
    })
}

/// One `--allow-remote` entry: a host name (`*.domain` for its sub-domains, an IPv6 address in
/// brackets), and a port when it names one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPattern {
    name: String,
    port: Option<u16>,
}

impl std::str::FromStr for HostPattern {
    type Err = String;

    fn from_str(entry: &str) -> Result<Self, String> {
        let lower = entry.trim().to_ascii_lowercase();
        let (name, port) = match lower.rsplit_once(':') {
            Some((name, port)) if !name.contains(':') || name.ends_with(']') => {
                let port = port
                    .parse::<u16>()
                    .map_err(|_| format!("`{entry}`: `{port}` is not a port number"))?;
                (name, Some(port))
            }
            _ => (lower.as_str(), None),
        };
        let name = bare_host(name);
        if name.is_empty()
            || name == "*"
            || (name.contains(['/', '@', '*']) && !name.starts_with("*."))
        {
            return Err(format!(
                "`{entry}`: expected a host name, `*.domain` or `host:port`"
            ));
        }
        Ok(Self { name, port })
    }
}

impl HostPattern {
    /// `host` (lower case, without brackets or a trailing dot) on `port` matches: the same
    /// name or a sub-domain of a `*.domain` entry, and the same port when the entry names one.
    fn matches(&self, host: &str, port: u16) -> bool {
        let name_matches = match self.name.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.ends_with('.')),
            None => host == self.name,
        };
        name_matches && self.port.is_none_or(|p| p == port)
    }
}

/// A host as entries and URLs are compared: lower case, without IPv6 brackets or a trailing dot.
fn bare_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Resolves as the system does, then keeps the answer only if every address is public.
#[derive(Debug)]
struct PublicResolver {
    private_addresses: bool,
}

/// The refusal the resolver hands back through ureq.
#[derive(Debug, thiserror::Error)]
#[error("{address} is {kind}")]
struct NotPublic {
    address: IpAddr,
    kind: &'static str,
}

impl Resolver for PublicResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addresses = DefaultResolver::default().resolve(uri, config, timeout)?;
        if !self.private_addresses {
            let refused = addresses
                .iter()
                .find_map(|a: &SocketAddr| non_public(a.ip()).map(|kind| (a.ip(), kind)));
            if let Some((address, kind)) = refused {
                return Err(ureq::Error::Other(Box::new(NotPublic { address, kind })));
            }
        }
        Ok(addresses)
    }
}

impl Remote {
    /// Whether `image` (a thumbor URL's image part) names a remote image.
    pub fn is_remote(image: &str) -> bool {
        let lower = image.get(..8).unwrap_or(image).to_ascii_lowercase();
        lower.starts_with("http://") || lower.starts_with("https://")
    }

    /// The image at `url`, at most `limit` bytes, under the guards above. Blocking.
    pub fn fetch(&self, url: &str, limit: u64) -> Result<Vec<u8>, RemoteError> {
        if self.hosts.is_empty() {
            return Err(RemoteError::Disabled { url: url.into() });
        }
        let malformed = || RemoteError::Malformed { url: url.into() };
        let uri: Uri = url.parse().map_err(|_| malformed())?;
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return Err(malformed());
        };
        let port = match (uri.port_u16(), scheme) {
            (Some(port), _) => port,
            (None, "http") => 80,
            (None, "https") => 443,
            _ => return Err(malformed()),
        };
        let bare = bare_host(host);
        if !self
            .hosts
            .iter()
            .any(|pattern| pattern.matches(&bare, port))
        {
            return Err(RemoteError::HostNotAllowed {
                url: url.into(),
                host: host.into(),
            });
        }
        let failed = |e: ureq::Error| self.failure(url, host, limit, e);
        let mut response = self.agent.get(url).call().map_err(failed)?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(RemoteError::Status {
                url: url.into(),
                status,
                redirect: (300..400).contains(&status),
            });
        }
        response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(failed)
    }

    fn failure(&self, url: &str, host: &str, limit: u64, error: ureq::Error) -> RemoteError {
        match error {
            ureq::Error::Other(inner) => match inner.downcast::<NotPublic>() {
                Ok(refused) => RemoteError::AddressNotPublic {
                    url: url.into(),
                    host: host.into(),
                    address: refused.address,
                    kind: refused.kind,
                },
                Err(other) => RemoteError::Unreachable {
                    url: url.into(),
                    message: other.to_string(),
                },
            },
            ureq::Error::Timeout(_) => RemoteError::Timeout {
                url: url.into(),
                seconds: self.timeout.as_secs_f64(),
            },
            ureq::Error::BodyExceedsLimit(_) => RemoteError::TooLarge {
                url: url.into(),
                limit,
            },
            other => RemoteError::Unreachable {
                url: url.into(),
                message: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for (address, public) in [
            ("93.184.215.14", true),
            ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", true),
            ("127.0.0.1", false),
            ("10.1.2.3", false),
            ("172.16.0.1", false),
            ("192.168.1.1", false),
            ("169.254.169.254", false),
            ("100.64.0.1", false),
            ("0.0.0.0", false),
            ("255.255.255.255", false),
            ("::1", false),
            ("::", false),
            ("fd00::1", false),
            ("fe80::1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:8.8.8.8", true),
            ("64:ff9b::a00:1", false),
            ("64:ff9b::808:808", true),
        ] {
            let ip: IpAddr = address.parse().unwrap();
            assert_eq!(non_public(ip).is_none(), public, "{address}");
        }
    }

    #[test]
    fn hosts_match_by_name_sub_domain_and_port() {
        let entries: Vec<HostPattern> = [
            "images.example.com",
            "*.cdn.example.org",
            "photos.test:8080",
            "[2001:db8::7]:8443",
        ]
        .iter()
        .map(|e| e.parse().unwrap())
        .collect();
        for (host, port, ok) in [
            ("images.example.com", 443, true),
            ("IMAGES.example.com.", 80, true),
            ("evil-images.example.com", 443, false),
            ("a.cdn.example.org", 443, true),
            ("cdn.example.org", 443, false),
            ("a.cdn.example.org.evil.com", 443, false),
            ("photos.test", 8080, true),
            ("photos.test", 80, false),
            ("[2001:db8::7]", 8443, true),
            ("[2001:db8::8]", 8443, false),
        ] {
            let bare = bare_host(host);
            assert_eq!(
                entries.iter().any(|e| e.matches(&bare, port)),
                ok,
                "{host}:{port}"
            );
        }
        for bad in ["", "*", "host:http", "a/b", "user@host", "x.*.org"] {
            assert!(bad.parse::<HostPattern>().is_err(), "{bad}");
        }
    }
}
