//! burrow's extensions to the OCI runtime spec, in one place (pure): every
//! `run.burrow.*` annotation, its type, the encoder a front end uses and a
//! strict decoder for the start sequence. The annotations of a spec from
//! outside (a bundle's config.json) are untrusted input: a value that does
//! not decode, or a `run.burrow.` key that is not one of these, is an error
//! naming the key and the value, never a silent default that would turn a
//! sandbox layer off. `validate` decodes them all before anything starts.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

/// The prefix of every burrow annotation.
pub const PREFIX: &str = "run.burrow.";
/// The root is a fresh tmpfs (`root.path` is then unused): "true" or "false".
pub const ROOT_TMPFS: &str = "run.burrow.root-tmpfs";
/// Interface N on a bridge (`run.burrow.net.0`, ...), numbered from 0 without gaps.
pub const INTERFACE_PREFIX: &str = "run.burrow.net.";
/// Nameservers for the container's /etc/resolv.conf, space-separated.
pub const DNS: &str = "run.burrow.dns";
/// The container runs under Landlock: "true" or "false".
pub const LANDLOCK: &str = "run.burrow.landlock";
/// N: fds 3 to 3+N-1 reach the container as they are (0 to 1024).
pub const PRESERVE_FDS: &str = "run.burrow.preserve-fds";
/// burrow's init runs as pid 1 in front of the command: "true" or "false".
pub const INIT: &str = "run.burrow.init";

/// The first fd `PRESERVE_FDS` counts: the first one above stderr.
pub const FIRST_PRESERVED_FD: u32 = 3;
/// The most fds `PRESERVE_FDS` may name.
pub const MAX_PRESERVED_FDS: u32 = 1024;

/// Every key, with what its value means (for `features`).
#[allow(dead_code, reason = "for the `features` command, which is to print it")]
pub const KEYS: &[(&str, &str)] = &[
    (ROOT_TMPFS, "\"true\": the root is a fresh tmpfs, root.path is unused"),
    (
        "run.burrow.net.N",
        "a veth on a bridge: bridge=B name=N [ip=A/P]... [gateway=A]... [mac=M] [mtu=N]",
    ),
    (DNS, "nameservers for /etc/resolv.conf, space-separated"),
    (
        LANDLOCK,
        "\"true\": Landlock confines the container to its root and mounts",
    ),
    (PRESERVE_FDS, "N: fds 3 to 3+N-1 reach the container"),
    (
        INIT,
        "\"true\": a small init runs as pid 1, reaps, and passes signals on to the command",
    ),
];

/// A malformed annotation: the key, what was expected, the value found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnotationError {
    pub key: String,
    pub expected: String,
    pub found: String,
}

impl fmt::Display for AnnotationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "annotation {}: {}, found {:?}", self.key, self.expected, self.found)
    }
}

impl std::error::Error for AnnotationError {}

/// What burrow's annotations say, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    pub root_tmpfs: bool,
    pub interfaces: Vec<Interface>,
    pub dns: Vec<IpAddr>,
    pub landlock: bool,
    pub preserve_fds: u32,
    pub init: bool,
}

/// One interface on a bridge, as the child configures it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interface {
    pub bridge: String,
    /// Its name inside the container.
    pub name: String,
    pub addresses: Vec<(IpAddr, u8)>,
    pub gateways: Vec<IpAddr>,
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
}

type Annotations = HashMap<String, String>;

impl Extensions {
    /// The annotations for these extensions; a default value is left out.
    pub fn encode(&self, annotations: &mut Annotations) {
        if self.root_tmpfs {
            annotations.insert(ROOT_TMPFS.to_owned(), "true".to_owned());
        }
        for (i, interface) in self.interfaces.iter().enumerate() {
            annotations.insert(format!("{INTERFACE_PREFIX}{i}"), interface.to_string());
        }
        if !self.dns.is_empty() {
            let servers: Vec<String> = self.dns.iter().map(IpAddr::to_string).collect();
            annotations.insert(DNS.to_owned(), servers.join(" "));
        }
        if self.landlock {
            annotations.insert(LANDLOCK.to_owned(), "true".to_owned());
        }
        if self.preserve_fds > 0 {
            annotations.insert(PRESERVE_FDS.to_owned(), self.preserve_fds.to_string());
        }
        if self.init {
            annotations.insert(INIT.to_owned(), "true".to_owned());
        }
    }

    /// Decodes every `run.burrow.` annotation strictly; others are not burrow's.
    pub fn decode(annotations: Option<&Annotations>) -> Result<Extensions, AnnotationError> {
        let empty = Annotations::new();
        let annotations = annotations.unwrap_or(&empty);
        let mut keys: Vec<&String> = annotations.keys().filter(|k| k.starts_with(PREFIX)).collect();
        keys.sort();
        let mut extensions = Extensions::default();
        for key in keys {
            let value = annotations[key].as_str();
            let error = |expected: &str| AnnotationError {
                key: key.clone(),
                expected: expected.to_owned(),
                found: value.to_owned(),
            };
            match key.as_str() {
                ROOT_TMPFS => extensions.root_tmpfs = boolean(value).ok_or_else(|| error(BOOLEAN))?,
                LANDLOCK => extensions.landlock = boolean(value).ok_or_else(|| error(BOOLEAN))?,
                INIT => extensions.init = boolean(value).ok_or_else(|| error(BOOLEAN))?,
                DNS => {
                    extensions.dns =
                        nameservers(value).ok_or_else(|| error("expected IP addresses, space-separated"))?
                }
                PRESERVE_FDS => {
                    extensions.preserve_fds = match burrow_shared::ids::parse_decimal_u32(value) {
                        Some(n) if n <= MAX_PRESERVED_FDS => n,
                        _ => return Err(error("expected a number of fds from 0 to 1024")),
                    }
                }
                _ if key.starts_with(INTERFACE_PREFIX) => {}
                _ => return Err(error("unknown burrow annotation")),
            }
        }
        extensions.interfaces = interfaces(annotations)?;
        Ok(extensions)
    }
}

const BOOLEAN: &str = "expected \"true\" or \"false\"";

fn boolean(value: &str) -> Option<bool> {
    match value {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn nameservers(value: &str) -> Option<Vec<IpAddr>> {
    value.split(' ').map(|server| server.parse().ok()).collect()
}

/// `run.burrow.net.0` to `.N-1`: each must decode, the numbers must have no
/// gap (a later one would be lost), and the names must differ.
fn interfaces(annotations: &Annotations) -> Result<Vec<Interface>, AnnotationError> {
    let numbered = annotations
        .iter()
        .filter_map(|(k, v)| Some((k, k.strip_prefix(INTERFACE_PREFIX)?, v)));
    let mut found: Vec<(u32, &String, &String)> = Vec::new();
    for (key, number, value) in numbered {
        let error = |expected: &str| AnnotationError {
            key: key.clone(),
            expected: expected.to_owned(),
            found: value.clone(),
        };
        let n = burrow_shared::ids::parse_decimal_u32(number)
            .filter(|n| n.to_string() == number)
            .ok_or_else(|| error("unknown burrow annotation (interfaces are run.burrow.net.0, .1, ...)"))?;
        found.push((n, key, value));
    }
    found.sort();
    let mut interfaces: Vec<Interface> = Vec::new();
    for (i, (n, key, value)) in found.into_iter().enumerate() {
        let error = |expected: String| AnnotationError {
            key: key.clone(),
            expected,
            found: value.clone(),
        };
        if n as usize != i {
            return Err(error(format!("the interfaces before it (from {INTERFACE_PREFIX}{i})")));
        }
        let interface = Interface::decode(value).map_err(error)?;
        if interface.name == "lo" || interfaces.iter().any(|other| other.name == interface.name) {
            return Err(error(format!("interface name {} is used twice", interface.name)));
        }
        interfaces.push(interface);
    }
    Ok(interfaces)
}

/// A Linux interface name: 1 to 15 bytes, no '/', ':', whitespace, not "." or "..".
pub fn check_interface_name(name: &str) -> Result<(), String> {
    // The same rule the helper applies to a bridge name: one place for it.
    if burrow_shared::request::valid_ifname(name) {
        Ok(())
    } else {
        Err(format!("{name:?} is not a valid interface name"))
    }
}

/// `ADDRESS/PREFIX`.
pub fn parse_address(text: &str) -> Result<(IpAddr, u8), String> {
    let (address, prefix) = text.split_once('/').ok_or("expected ADDRESS/PREFIX")?;
    let address: IpAddr = address.parse().map_err(|_| "not an IP address")?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    match burrow_shared::ids::parse_decimal_u32(prefix) {
        Some(prefix) if prefix <= max => Ok((address, prefix as u8)),
        _ => Err(format!("prefix must be 0 to {max}")),
    }
}

/// A unicast MAC address, six hex octets.
pub fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let octets: Vec<u8> = text
        .split(':')
        .map(|octet| match octet.len() {
            2 => u8::from_str_radix(octet, 16).ok(),
            _ => None,
        })
        .collect::<Option<_>>()
        .ok_or("expected six hex octets like 02:00:00:00:00:01")?;
    let mac: [u8; 6] = octets
        .try_into()
        .map_err(|_| "expected six hex octets like 02:00:00:00:00:01")?;
    if mac[0] & 1 == 1 {
        return Err("a multicast address cannot be an interface's".to_owned());
    }
    if mac == [0; 6] {
        return Err("the all-zero address cannot be an interface's".to_owned());
    }
    Ok(mac)
}

pub fn parse_mtu(text: &str) -> Result<u32, String> {
    match burrow_shared::ids::parse_decimal_u32(text) {
        Some(mtu @ 68..=65535) => Ok(mtu),
        _ => Err("must be 68 to 65535".to_owned()),
    }
}

impl fmt::Display for Interface {
    /// The annotation form: space-separated `key=value`; no value has spaces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bridge={} name={}", self.bridge, self.name)?;
        for (address, prefix) in &self.addresses {
            write!(f, " ip={address}/{prefix}")?;
        }
        for gateway in &self.gateways {
            write!(f, " gateway={gateway}")?;
        }
        if let Some(m) = self.mac {
            write!(
                f,
                " mac={:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            )?;
        }
        if let Some(mtu) = self.mtu {
            write!(f, " mtu={mtu}")?;
        }
        Ok(())
    }
}

impl Interface {
    /// The annotation form back (see `Display`): bridge and name once each
    /// and valid, mac and mtu at most once, every field known and valid.
    fn decode(text: &str) -> Result<Interface, String> {
        let mut interface = Interface::default();
        let (mut bridge, mut name) = (false, false);
        for field in text.split(' ') {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| format!("{field:?} is not KEY=VALUE"))?;
            let bad = |why: String| format!("bad {key} {value:?}: {why}");
            let twice = || format!("{key} given twice");
            match key {
                "bridge" if !bridge => {
                    check_interface_name(value).map_err(bad)?;
                    (interface.bridge, bridge) = (value.to_owned(), true);
                }
                "name" if !name => {
                    check_interface_name(value).map_err(bad)?;
                    (interface.name, name) = (value.to_owned(), true);
                }
                "ip" => interface.addresses.push(parse_address(value).map_err(bad)?),
                "gateway" => interface
                    .gateways
                    .push(value.parse().map_err(|_| bad("not an IP address".to_owned()))?),
                "mac" if interface.mac.is_none() => interface.mac = Some(parse_mac(value).map_err(bad)?),
                "mtu" if interface.mtu.is_none() => interface.mtu = Some(parse_mtu(value).map_err(bad)?),
                "bridge" | "name" | "mac" | "mtu" => return Err(twice()),
                _ => return Err(format!("unknown field {key:?}")),
            }
        }
        match (bridge, name) {
            (true, true) => Ok(interface),
            (false, _) => Err("no bridge=".to_owned()),
            (true, false) => Err("no name=".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> Annotations {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn decode(pairs: &[(&str, &str)]) -> Result<Extensions, String> {
        Extensions::decode(Some(&annotations(pairs))).map_err(|e| e.to_string())
    }

    #[test]
    fn round_trip() {
        let extensions = Extensions {
            root_tmpfs: true,
            interfaces: vec![
                Interface {
                    bridge: "br0".into(),
                    name: "eth0".into(),
                    addresses: vec![("10.0.0.2".parse().unwrap(), 24), ("fd00::2".parse().unwrap(), 64)],
                    gateways: vec!["10.0.0.1".parse().unwrap()],
                    mac: Some([2, 0, 0, 0, 0, 1]),
                    mtu: Some(1400),
                },
                Interface {
                    bridge: "br1".into(),
                    name: "uplink".into(),
                    ..Interface::default()
                },
            ],
            dns: vec!["10.0.0.1".parse().unwrap(), "fd00::1".parse().unwrap()],
            landlock: true,
            preserve_fds: 2,
            init: true,
        };
        let mut encoded = Annotations::new();
        extensions.encode(&mut encoded);
        assert_eq!(encoded["run.burrow.dns"], "10.0.0.1 fd00::1");
        assert_eq!(
            encoded["run.burrow.net.0"],
            "bridge=br0 name=eth0 ip=10.0.0.2/24 ip=fd00::2/64 gateway=10.0.0.1 mac=02:00:00:00:00:01 mtu=1400"
        );
        assert_eq!(Extensions::decode(Some(&encoded)), Ok(extensions));
        // The defaults encode as nothing, and nothing decodes as the defaults.
        let mut encoded = Annotations::new();
        Extensions::default().encode(&mut encoded);
        assert!(encoded.is_empty());
        assert_eq!(Extensions::decode(None), Ok(Extensions::default()));
        assert_eq!(decode(&[("org.example", "x")]), Ok(Extensions::default()));
        assert_eq!(
            decode(&[(LANDLOCK, "false"), (ROOT_TMPFS, "false")]),
            Ok(Extensions::default())
        );
    }

    #[test]
    fn malformed_values_are_errors() {
        let err = |pairs: &[(&str, &str)]| decode(pairs).unwrap_err();
        assert_eq!(
            err(&[(LANDLOCK, "yes")]),
            "annotation run.burrow.landlock: expected \"true\" or \"false\", found \"yes\""
        );
        assert_eq!(
            err(&[(ROOT_TMPFS, "")]),
            "annotation run.burrow.root-tmpfs: expected \"true\" or \"false\", found \"\""
        );
        assert_eq!(
            err(&[(PRESERVE_FDS, "x")]),
            "annotation run.burrow.preserve-fds: expected a number of fds from 0 to 1024, found \"x\""
        );
        assert_eq!(
            err(&[(PRESERVE_FDS, "1025")]),
            "annotation run.burrow.preserve-fds: expected a number of fds from 0 to 1024, found \"1025\""
        );
        assert_eq!(
            err(&[(DNS, "10.0.0.1\nnameserver 1.1.1.1")]),
            "annotation run.burrow.dns: expected IP addresses, space-separated, found \"10.0.0.1\\nnameserver 1.1.1.1\""
        );
        assert_eq!(
            err(&[("run.burrow.landlok", "true")]),
            "annotation run.burrow.landlok: unknown burrow annotation, found \"true\""
        );
        assert_eq!(
            err(&[("run.burrow.net.0", "bridge=br0 name=eth0 ip=10.0.0.2")]),
            "annotation run.burrow.net.0: bad ip \"10.0.0.2\": expected ADDRESS/PREFIX, \
             found \"bridge=br0 name=eth0 ip=10.0.0.2\""
        );
        assert_eq!(
            err(&[("run.burrow.net.0", "bridge=br0")]),
            "annotation run.burrow.net.0: no name=, found \"bridge=br0\""
        );
        assert_eq!(
            err(&[("run.burrow.net.0", "bridge=br0 name=eth0 mtu=1400 mtu=1500")]),
            "annotation run.burrow.net.0: mtu given twice, found \"bridge=br0 name=eth0 mtu=1400 mtu=1500\""
        );
        assert_eq!(
            err(&[("run.burrow.net.0", "bridge=br0 name=eth0 vlan=3")]),
            "annotation run.burrow.net.0: unknown field \"vlan\", found \"bridge=br0 name=eth0 vlan=3\""
        );
        assert_eq!(
            err(&[("run.burrow.net.1", "bridge=br0 name=eth0")]),
            "annotation run.burrow.net.1: the interfaces before it (from run.burrow.net.0), \
             found \"bridge=br0 name=eth0\""
        );
        assert_eq!(
            err(&[("run.burrow.net.01", "bridge=br0 name=eth0")]),
            "annotation run.burrow.net.01: unknown burrow annotation (interfaces are run.burrow.net.0, .1, ...), \
             found \"bridge=br0 name=eth0\""
        );
        assert_eq!(
            err(&[
                ("run.burrow.net.0", "bridge=a name=x"),
                ("run.burrow.net.1", "bridge=b name=x")
            ]),
            "annotation run.burrow.net.1: interface name x is used twice, found \"bridge=b name=x\""
        );
        assert_eq!(
            err(&[("run.burrow.net.0", "bridge=a/b name=x")]),
            "annotation run.burrow.net.0: bad bridge \"a/b\": \"a/b\" is not a valid interface name, \
             found \"bridge=a/b name=x\""
        );
    }
}
