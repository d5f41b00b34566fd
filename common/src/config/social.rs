//! The social service's configuration: its database like every service, and where
//! chat messages live.
//!
//! Messages go to the social database (`social.messages = "sql"`, the default, so
//! all-in-one needs no server) or to a ScyllaDB/Cassandra keyspace (`"cql"`). The
//! CQL settings are typed here so that `vigor config check` refuses a bad
//! replication or consistency before anything connects.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The social service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SocialConfig {
    /// `postgres://…` or `sqlite://…`; unset: SQLite under `data_dir`.
    pub database_url: Option<String>,
    /// Where the gateway reaches the service when it runs as its own target.
    pub url: Option<String>,
    /// Where chat messages are stored.
    pub messages: MessageBackend,
    /// Width of one CQL message partition (a channel's messages of this many hours).
    pub chat_bucket_hours: u32,
    /// Messages (and posts and comments) one person may send per second on
    /// average; 0 turns the limit off (load tests).
    pub send_rate_per_sec: u32,
    /// How many of them may come at once.
    pub send_burst: u32,
    /// The CQL cluster of `messages = "cql"`.
    pub cql: CqlConfig,
}

impl Default for SocialConfig {
    fn default() -> Self {
        SocialConfig {
            database_url: None,
            url: None,
            messages: MessageBackend::Sql,
            chat_bucket_hours: 24,
            send_rate_per_sec: 5,
            send_burst: 20,
            cql: CqlConfig::default(),
        }
    }
}

/// Where chat messages are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageBackend {
    /// The social SQL database.
    Sql,
    /// A ScyllaDB or Cassandra keyspace.
    Cql,
}

/// A CQL cluster and keyspace.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CqlConfig {
    /// Contact points, `host:port`.
    pub nodes: Vec<String>,
    /// The keyspace of the chat tables.
    pub keyspace: String,
    /// How `vigor migrate` replicates the keyspace when it creates it.
    pub replication: Replication,
    /// Consistency of every chat read and write.
    pub consistency: Consistency,
}

impl Default for CqlConfig {
    fn default() -> Self {
        CqlConfig {
            nodes: vec!["127.0.0.1:9042".to_owned()],
            keyspace: "vigor_social".to_owned(),
            replication: Replication::Simple(1),
            consistency: Consistency::LocalQuorum,
        }
    }
}

/// A CQL consistency level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum Consistency {
    Any,
    One,
    Two,
    Three,
    Quorum,
    All,
    LocalQuorum,
    EachQuorum,
    LocalOne,
}

/// The replication of a keyspace, written `SimpleStrategy:<factor>` or
/// `NetworkTopologyStrategy:<dc>=<factor>,…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Replication {
    /// One replication factor for the whole cluster.
    Simple(u32),
    /// A replication factor per data centre.
    NetworkTopology(Vec<(String, u32)>),
}

/// Why a replication setting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "expected SimpleStrategy:<factor> or NetworkTopologyStrategy:<dc>=<factor>,… \
     (factors 1-99, data centre names of letters, digits, `-` and `_`)"
)]
pub struct BadReplication;

impl FromStr for Replication {
    type Err = BadReplication;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let factor = |f: &str| match f.trim().parse::<u32>() {
            Ok(n @ 1..=99) => Ok(n),
            _ => Err(BadReplication),
        };
        let (class, rest) = s.split_once(':').ok_or(BadReplication)?;
        match class.trim() {
            "SimpleStrategy" => Ok(Replication::Simple(factor(rest)?)),
            "NetworkTopologyStrategy" => {
                let dcs = rest
                    .split(',')
                    .map(|pair| {
                        let (dc, f) = pair.split_once('=').ok_or(BadReplication)?;
                        let dc = dc.trim();
                        let valid = !dc.is_empty()
                            && dc
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                        if !valid {
                            return Err(BadReplication);
                        }
                        Ok((dc.to_owned(), factor(f)?))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Replication::NetworkTopology(dcs))
            }
            _ => Err(BadReplication),
        }
    }
}

impl TryFrom<String> for Replication {
    type Error = BadReplication;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Replication> for String {
    fn from(r: Replication) -> String {
        r.to_string()
    }
}

impl fmt::Display for Replication {
    /// The configuration form, which [`FromStr`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Replication::Simple(n) => write!(f, "SimpleStrategy:{n}"),
            Replication::NetworkTopology(dcs) => {
                f.write_str("NetworkTopologyStrategy:")?;
                let pairs: Vec<String> = dcs.iter().map(|(dc, n)| format!("{dc}={n}")).collect();
                f.write_str(&pairs.join(","))
            }
        }
    }
}

impl Replication {
    /// The CQL map of `CREATE KEYSPACE … WITH replication = …`.
    pub fn cql_map(&self) -> String {
        match self {
            Replication::Simple(n) => {
                format!("{{'class': 'SimpleStrategy', 'replication_factor': {n}}}")
            }
            Replication::NetworkTopology(dcs) => {
                let mut map = "{'class': 'NetworkTopologyStrategy'".to_owned();
                for (dc, n) in dcs {
                    map.push_str(&format!(", '{dc}': {n}"));
                }
                map.push('}');
                map
            }
        }
    }
}

/// Whether `name` can be a keyspace: 1-48 letters, digits and `_`, starting with a letter.
pub fn valid_keyspace(name: &str) -> bool {
    (1..=48).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl SocialConfig {
    /// Checks what serde cannot: `(key, message)` of the first problem.
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.send_rate_per_sec > 0 && self.send_burst == 0 {
            return Err((
                "social.send_burst",
                "must be positive while social.send_rate_per_sec is".to_owned(),
            ));
        }
        if self.chat_bucket_hours == 0 {
            return Err(("social.chat_bucket_hours", "must be positive".to_owned()));
        }
        if !valid_keyspace(&self.cql.keyspace) {
            let message = "must be 1-48 letters, digits and `_`, starting with a letter";
            return Err(("social.cql.keyspace", message.to_owned()));
        }
        if self.messages == MessageBackend::Cql && self.cql.nodes.is_empty() {
            let message = "must name at least one host:port with social.messages = cql";
            return Err(("social.cql.nodes", message.to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_reads_its_config_form_and_writes_its_cql_map() {
        let simple: Replication = "SimpleStrategy:3".parse().unwrap();
        assert_eq!(
            simple.cql_map(),
            "{'class': 'SimpleStrategy', 'replication_factor': 3}"
        );
        assert_eq!(simple.to_string(), "SimpleStrategy:3");
        let nts: Replication = "NetworkTopologyStrategy:dc1=3, eu-west=2".parse().unwrap();
        assert_eq!(
            nts.cql_map(),
            "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'eu-west': 2}"
        );
        assert_eq!(nts.to_string().parse::<Replication>().unwrap(), nts);
        for bad in [
            "SimpleStrategy",
            "SimpleStrategy:0",
            "Local:1",
            "NetworkTopologyStrategy:dc1",
            "NetworkTopologyStrategy:dc'1=3",
        ] {
            assert!(bad.parse::<Replication>().is_err(), "{bad}");
        }
    }

    #[test]
    fn keyspace_names_are_plain() {
        assert!(valid_keyspace("vigor_social"));
        assert!(!valid_keyspace("1abc"));
        assert!(!valid_keyspace("a-b"));
        assert!(!valid_keyspace("x; DROP"));
        assert!(!valid_keyspace(&"a".repeat(49)));
    }
}
