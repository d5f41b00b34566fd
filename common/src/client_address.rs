//! The client's address, decided once, where a request enters Vigor.
//!
//! Rate limits and sign-in limits count per client address, so every process
//! must agree on who the client is. Where the request enters (the gateway, or
//! all-in-one) the address is the TCP peer or, behind a trusted load balancer
//! (`http.trust_forwarded_for`), the last `X-Forwarded-For` entry — the one that
//! balancer appended. The gateway puts it in the request's extensions for the
//! handlers in its own process, and passes it to the services behind it in the
//! [`HEADER`], which it always overwrites. A service target trusts that header
//! only when configured to sit behind the gateway (`http.behind_gateway`):
//! otherwise a client could name any address it likes. Behind the gateway
//! without it, every client would be the gateway, and anyone could exhaust the
//! limits of everyone.
//!
//! Limits count an IPv6 client by its /64 ([`ClientAddress::network`]): one
//! subscriber usually holds a whole /64 and could rotate through it.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};

/// The header in which the gateway tells a service the client's address.
pub static HEADER: HeaderName = HeaderName::from_static("x-vigor-client-address");

/// The client's address, when known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    /// The address limits count: an IPv4 address as it is, an IPv6 address as
    /// the first address of its /64 (an IPv4-mapped IPv6 address is IPv4).
    pub fn network(&self) -> Option<IpAddr> {
        self.0.map(|ip| match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
            v4 => v4,
        })
    }

    /// The rate-limit bucket of this client: `ip:<address>`, or `ip:<prefix>/64`.
    pub fn limit_key(&self) -> String {
        match self.network() {
            Some(IpAddr::V6(v6)) => format!("ip:{v6}/64"),
            Some(v4) => format!("ip:{v4}"),
            // Only a router served without the gateway's server lacks the peer;
            // such requests share one bucket rather than escape the limit.
            None => "ip:unknown".to_owned(),
        }
    }
}

/// Where this process learns a client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressPolicy {
    /// The TCP peer: clients connect directly.
    Peer,
    /// The last `X-Forwarded-For` entry (a trusted load balancer appended it),
    /// else the peer.
    ForwardedFor,
    /// The gateway's [`HEADER`] (a service target behind the gateway), else the
    /// peer.
    Gateway,
}

impl AddressPolicy {
    /// The policy of a process: `edge` for the gateway and all-in-one.
    pub fn from_config(config: &crate::config::Config, edge: bool) -> AddressPolicy {
        if !edge && config.http.behind_gateway {
            AddressPolicy::Gateway
        } else if config.http.trust_forwarded_for {
            AddressPolicy::ForwardedFor
        } else {
            AddressPolicy::Peer
        }
    }

    /// The client's address by this policy.
    pub fn decide(self, headers: &HeaderMap, peer: Option<IpAddr>) -> ClientAddress {
        let told = match self {
            AddressPolicy::Peer => None,
            // Only the last header line, and its last entry: our balancer appends.
            // An unreadable entry falls back to the peer, never to an earlier
            // (client-written) one.
            AddressPolicy::ForwardedFor => headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').map(str::trim).find(|v| !v.is_empty()))
                .and_then(parse_address),
            AddressPolicy::Gateway => headers
                .get(&HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_address(v.trim())),
        };
        ClientAddress(told.or(peer))
    }
}

/// `1.2.3.4`, `2001:db8::1`, `1.2.3.4:5678` or `[2001:db8::1]:443`.
fn parse_address(value: &str) -> Option<IpAddr> {
    value
        .parse::<IpAddr>()
        .ok()
        .or_else(|| value.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The address the gateway decided (its layer puts it in the extensions), or the
/// TCP peer of a router served without it.
impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(address) = parts.extensions.get::<ClientAddress>() {
            return Ok(*address);
        }
        Ok(ClientAddress(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        headers
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn each_policy_trusts_only_its_source() {
        let peer = ip("10.0.0.1");
        let told = headers(&[
            ("x-forwarded-for", "6.6.6.6, 203.0.113.9"),
            ("x-vigor-client-address", "198.51.100.7"),
        ]);
        assert_eq!(AddressPolicy::Peer.decide(&told, peer).0, peer);
        assert_eq!(
            AddressPolicy::ForwardedFor.decide(&told, peer).0,
            ip("203.0.113.9"),
            "the entry our balancer appended, not the client's"
        );
        assert_eq!(
            AddressPolicy::Gateway.decide(&told, peer).0,
            ip("198.51.100.7")
        );
        let garbage = headers(&[
            ("x-forwarded-for", "nonsense"),
            ("x-vigor-client-address", "nonsense"),
        ]);
        for policy in [AddressPolicy::ForwardedFor, AddressPolicy::Gateway] {
            assert_eq!(policy.decide(&garbage, peer).0, peer, "{policy:?}");
            assert_eq!(policy.decide(&HeaderMap::new(), peer).0, peer, "{policy:?}");
        }
        let ported = headers(&[("x-forwarded-for", "[2001:db8::1]:443")]);
        assert_eq!(
            AddressPolicy::ForwardedFor.decide(&ported, peer).0,
            ip("2001:db8::1")
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let a = ClientAddress(ip("2001:db8:1:2::1"));
        let b = ClientAddress(ip("2001:db8:1:2:ffff::9"));
        let c = ClientAddress(ip("2001:db8:1:3::1"));
        assert_eq!(a.network(), b.network());
        assert_ne!(a.network(), c.network());
        assert_eq!(a.limit_key(), "ip:2001:db8:1:2::/64");
        assert_eq!(a.limit_key(), b.limit_key());
        assert_eq!(
            ClientAddress(ip("::ffff:192.0.2.1")).limit_key(),
            "ip:192.0.2.1"
        );
        assert_eq!(ClientAddress(ip("192.0.2.1")).network(), ip("192.0.2.1"));
        assert_eq!(ClientAddress(None).limit_key(), "ip:unknown");
    }
}
