//! Where webhooks may go: http(s) only, to allowed hosts, and by default never to private,
//! link-local or loopback addresses (no reaching into the gateway's own network; loopback is
//! allowed in development). Names are checked after resolution, so a public name that resolves
//! to a private address is refused too.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The rules for webhook destinations.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    /// When non-empty, only these host names (exact, lower case) may be used.
    pub allowed_hosts: Vec<String>,
    pub allow_private: bool,
    pub allow_loopback: bool,
    /// Only https (production).
    pub https_only: bool,
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
                || (o[0] == 198 && (18..20).contains(&o[1])) // benchmarking
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4)) || v4.is_loopback();
            }
            let s = v6.segments();
            v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link local
        }
    }
}

impl AddressPolicy {
    /// May a delivery connect to `ip`?
    pub fn ip_allowed(&self, ip: IpAddr) -> bool {
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        !is_private(ip) || self.allow_private
    }

    /// Checks a destination URL (scheme, host list, literal addresses).
    pub fn check_url(&self, raw: &str) -> Result<url::Url, String> {
        let url = url::Url::parse(raw).map_err(|_| "not a URL".to_string())?;
        match url.scheme() {
            "https" => {}
            "http" if !self.https_only => {}
            _ => {
                return Err(if self.https_only {
                    "must be https"
                } else {
                    "must be http or https"
                }
                .into())
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials".into());
        }
        let host = url
            .host_str()
            .ok_or("must name a host")?
            .to_ascii_lowercase();
        if !self.allowed_hosts.is_empty()
            && !self
                .allowed_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&host))
        {
            return Err("host is not on the allowed list".into());
        }
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>() {
            if !self.ip_allowed(ip) {
                return Err("address is not allowed (private, link-local or loopback)".into());
            }
        } else if host == "localhost" && !self.allow_loopback {
            return Err("address is not allowed (loopback)".into());
        }
        Ok(url)
    }
}

/// A DNS resolver for the webhook client that drops addresses the policy refuses.
pub struct GuardedResolver {
    pub policy: Arc<AddressPolicy>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| policy.ip_allowed(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no allowed address").into());
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_refused_by_default() {
        let p = AddressPolicy::default();
        for bad in [
            "http://10.0.0.1/x",
            "http://192.168.1.10/",
            "http://172.16.5.4/",
            "http://169.254.169.254/latest/meta-data",
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://localhost/",
            "ftp://example.nl/",
            "https://user:pw@example.nl/",
        ] {
            assert!(p.check_url(bad).is_err(), "{bad}");
        }
        assert!(p.check_url("https://partner.example.nl/hooks").is_ok());
        assert!(p.check_url("https://93.184.216.34/hooks").is_ok());
        let dev = AddressPolicy {
            allow_loopback: true,
            ..Default::default()
        };
        assert!(dev.check_url("http://127.0.0.1:9000/").is_ok());
        assert!(dev.check_url("http://10.0.0.1/").is_err());
        let listed = AddressPolicy {
            allowed_hosts: vec!["partner.example.nl".into()],
            https_only: true,
            ..Default::default()
        };
        assert!(listed.check_url("https://partner.example.nl/h").is_ok());
        assert!(listed.check_url("http://partner.example.nl/h").is_err());
        assert!(listed.check_url("https://other.example.nl/h").is_err());
    }
}
