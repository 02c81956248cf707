//! The container's network as the user asked for it (runner, unprivileged;
//! pure): `--net none|host|bridge:BRIDGE` and the per-interface options that
//! follow a `--net bridge:`, checked here and carried in the spec's
//! annotations (spec/annotations.rs).

use crate::spec::annotations::{Interface, check_interface_name, parse_address, parse_mac, parse_mtu};
use clap::ArgMatches;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetMode {
    /// A private network namespace with only `lo`.
    None,
    /// The caller's own network namespace.
    Host,
    /// A veth on this bridge, from burrow-helper.
    Bridge(String),
}

impl NetMode {
    pub fn parse(text: &str) -> Result<NetMode, String> {
        match text {
            "none" => Ok(NetMode::None),
            "host" => Ok(NetMode::Host),
            _ => match text.strip_prefix("bridge:") {
                Some(bridge) => {
                    check_interface_name(bridge)?;
                    Ok(NetMode::Bridge(bridge.to_owned()))
                }
                None => Err("expected none, host or bridge:BRIDGE".to_owned()),
            },
        }
    }
}

/// The interface options, by clap id, each applying to the nearest
/// `--net bridge:` before it.
const INTERFACE_OPTIONS: &[&str] = &["ip", "gateway", "mac", "mtu", "net_name"];

/// The network mode and interfaces from `burrow run`'s matches.
pub fn from_matches(matches: &ArgMatches) -> Result<(NetMode, Vec<Interface>), String> {
    let modes: Vec<(usize, NetMode)> = occurrences(matches, "net");
    let mut bridges: Vec<(usize, Interface)> = Vec::new();
    for (index, mode) in &modes {
        match mode {
            NetMode::Bridge(bridge) => bridges.push((
                *index,
                Interface {
                    bridge: bridge.clone(),
                    ..Interface::default()
                },
            )),
            other if modes.len() > 1 => {
                return Err(format!(
                    "--net {} cannot be combined with another --net",
                    mode_name(other)
                ));
            }
            _ => {}
        }
    }
    let mut named = vec![false; bridges.len()];
    for option in INTERFACE_OPTIONS {
        let flag = format!("--{}", option.replace('_', "-"));
        for (index, value) in occurrences::<String>(matches, option) {
            let slot = bridges
                .iter()
                .rposition(|(bridge_index, _)| *bridge_index < index)
                .ok_or_else(|| format!("{flag} must follow the --net bridge:BRIDGE it configures"))?;
            let interface = &mut bridges[slot].1;
            let bad = |why: String| format!("bad {flag} {value:?}: {why}");
            match *option {
                "ip" => interface.addresses.push(parse_address(&value).map_err(bad)?),
                "gateway" => interface
                    .gateways
                    .push(value.parse().map_err(|_| bad("not an IP address".into()))?),
                "mac" if interface.mac.is_none() => interface.mac = Some(parse_mac(&value).map_err(bad)?),
                "mtu" if interface.mtu.is_none() => interface.mtu = Some(parse_mtu(&value).map_err(bad)?),
                "net_name" if !named[slot] => {
                    check_interface_name(&value).map_err(bad)?;
                    interface.name = value.clone();
                    named[slot] = true;
                }
                _ => return Err(format!("{flag} given twice for {}", interface.bridge)),
            }
        }
    }
    let mut interfaces: Vec<Interface> = bridges.into_iter().map(|(_, interface)| interface).collect();
    // Unnamed interfaces get the lowest free ethN, in order.
    let mut next = 0;
    for i in 0..interfaces.len() {
        if interfaces[i].name.is_empty() {
            while interfaces.iter().any(|other| other.name == format!("eth{next}")) {
                next += 1;
            }
            interfaces[i].name = format!("eth{next}");
        }
    }
    check_interfaces(&interfaces)?;
    let mode = match modes.into_iter().next() {
        Some((_, mode)) => mode,
        None => NetMode::None,
    };
    Ok((mode, interfaces))
}

fn mode_name(mode: &NetMode) -> &'static str {
    match mode {
        NetMode::None => "none",
        NetMode::Host => "host",
        NetMode::Bridge(_) => "bridge",
    }
}

fn occurrences<T: Clone + Send + Sync + 'static>(matches: &ArgMatches, id: &str) -> Vec<(usize, T)> {
    match (matches.indices_of(id), matches.get_many::<T>(id)) {
        (Some(indices), Some(values)) => indices.zip(values.cloned()).collect(),
        _ => Vec::new(),
    }
}

fn check_interfaces(interfaces: &[Interface]) -> Result<(), String> {
    for ipv4 in [true, false] {
        let mut routed = interfaces
            .iter()
            .flat_map(|i| &i.gateways)
            .filter(|g| g.is_ipv4() == ipv4);
        if let (Some(_), Some(second)) = (routed.next(), routed.next()) {
            return Err(format!("--gateway {second}: only one default route per address family"));
        }
    }
    for (i, interface) in interfaces.iter().enumerate() {
        if interface.name == "lo" || interfaces[..i].iter().any(|other| other.name == interface.name) {
            return Err(format!("interface name {} is used twice", interface.name));
        }
        for gateway in &interface.gateways {
            if !interface
                .addresses
                .iter()
                .any(|(address, _)| address.is_ipv4() == gateway.is_ipv4())
            {
                let family = if gateway.is_ipv4() { "IPv4" } else { "IPv6" };
                return Err(format!(
                    "--gateway {gateway} needs an {family} --ip on {}",
                    interface.name
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use crate::spec::annotations::Extensions;
    use clap::{CommandFactory, FromArgMatches};
    use std::collections::HashMap;
    use std::net::IpAddr;

    fn parse(args: &[&str]) -> Result<(NetMode, Vec<Interface>), String> {
        let mut argv = vec!["burrow", "run"];
        argv.extend_from_slice(args);
        argv.push("true");
        let matches = Cli::command().try_get_matches_from(argv).map_err(|e| e.to_string())?;
        Cli::from_arg_matches(&matches).map_err(|e| e.to_string())?;
        from_matches(matches.subcommand_matches("run").unwrap())
    }

    #[test]
    fn options_follow_their_bridge() {
        let (mode, interfaces) = parse(&[
            "--net",
            "bridge:br0",
            "--ip",
            "10.0.0.2/24",
            "--gateway",
            "10.0.0.1",
            "--ip",
            "fd00::2/64",
            "--net",
            "bridge:br1",
            "--net-name",
            "uplink",
            "--mtu",
            "1400",
            "--mac",
            "02:00:00:00:00:01",
        ])
        .unwrap();
        assert_eq!(mode, NetMode::Bridge("br0".into()));
        assert_eq!(interfaces.len(), 2);
        assert_eq!(interfaces[0].name, "eth0");
        assert_eq!(interfaces[0].addresses.len(), 2);
        assert_eq!(interfaces[0].gateways, ["10.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(interfaces[1].name, "uplink");
        assert_eq!(interfaces[1].mtu, Some(1400));
        assert_eq!(interfaces[1].mac, Some([2, 0, 0, 0, 0, 1]));
        // Through the annotations and back.
        let extensions = Extensions {
            interfaces: interfaces.clone(),
            ..Extensions::default()
        };
        let mut annotations = HashMap::new();
        extensions.encode(&mut annotations);
        assert_eq!(Extensions::decode(Some(&annotations)).unwrap().interfaces, interfaces);
    }

    #[test]
    fn defaults_and_refusals() {
        assert_eq!(parse(&[]).unwrap(), (NetMode::None, vec![]));
        assert_eq!(parse(&["--net", "host"]).unwrap(), (NetMode::Host, vec![]));
        let err = |args: &[&str]| parse(args).unwrap_err();
        assert_eq!(
            err(&["--ip", "10.0.0.2/24"]),
            "--ip must follow the --net bridge:BRIDGE it configures"
        );
        assert_eq!(
            err(&["--net", "host", "--net", "bridge:b"]),
            "--net host cannot be combined with another --net"
        );
        assert_eq!(
            err(&["--net", "bridge:b", "--ip", "10.0.0.2"]),
            "bad --ip \"10.0.0.2\": expected ADDRESS/PREFIX"
        );
        assert_eq!(
            err(&["--net", "bridge:b", "--ip", "10.0.0.2/33"]),
            "bad --ip \"10.0.0.2/33\": prefix must be 0 to 32"
        );
        assert_eq!(
            err(&["--net", "bridge:b", "--mtu", "9", "--ip", "1.2.3.4/8"]),
            "bad --mtu \"9\": must be 68 to 65535"
        );
        assert_eq!(
            err(&["--net", "bridge:b", "--mac", "01:00:00:00:00:01"]),
            "bad --mac \"01:00:00:00:00:01\": a multicast address cannot be an interface's"
        );
        assert_eq!(
            err(&["--net", "bridge:b", "--mtu", "1400", "--mtu", "1500"]),
            "--mtu given twice for b"
        );
        assert_eq!(
            err(&["--net", "bridge:b", "--ip", "10.0.0.2/24", "--gateway", "fd00::1"]),
            "--gateway fd00::1 needs an IPv6 --ip on eth0"
        );
        assert_eq!(
            err(&[
                "--net",
                "bridge:a",
                "--net-name",
                "up",
                "--net",
                "bridge:b",
                "--net-name",
                "up"
            ]),
            "interface name up is used twice"
        );
        assert!(err(&["--net", "bridge:a/b"]).contains("not a valid interface name"));
        assert!(err(&["--net", "bridge:0123456789abcdef"]).contains("not a valid interface name"));
        assert!(err(&["--net", "wifi"]).contains("expected none, host or bridge:BRIDGE"));
        assert_eq!(
            err(&["--net", "bridge:b", "--mac", "00:00:00:00:00:00"]),
            "bad --mac \"00:00:00:00:00:00\": the all-zero address cannot be an interface's"
        );
        let two_routes = [
            "--net",
            "bridge:a",
            "--ip",
            "10.0.0.2/24",
            "--gateway",
            "10.0.0.1",
            "--net",
            "bridge:b",
            "--ip",
            "10.1.0.2/24",
            "--gateway",
            "10.1.0.1",
        ];
        assert_eq!(
            err(&two_routes),
            "--gateway 10.1.0.1: only one default route per address family"
        );
        // A default name skips the names given explicitly.
        let (_, named) = parse(&["--net", "bridge:a", "--net-name", "eth1", "--net", "bridge:b"]).unwrap();
        assert_eq!([named[0].name.as_str(), named[1].name.as_str()], ["eth1", "eth0"]);
    }
}
