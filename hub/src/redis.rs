//! Redis plumbing shared by the hub's Redis backends ([`crate::history::redis`],
//! [`crate::presence::redis`]): a reconnecting client and Lua scripts run by hash.
//!
//! Every multi-step update of the hub's Redis state is one Lua script, so Redis
//! runs it atomically: that is what makes a channel's `seq` and its ring agree, and
//! a presence join answer "first session of this user" exactly once.

use std::time::Duration;

use fred::prelude::{Builder, Client, ClientLike, Config, LuaInterface, ReconnectPolicy, Value};

/// A command that takes longer than this fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects a client to `url` that reconnects forever with exponential backoff.
pub(crate) async fn connect(url: &str) -> Result<Client, fred::error::Error> {
    let config = Config::from_url(url)?;
    let mut builder = Builder::from_config(config);
    builder
        .with_performance_config(|performance| {
            performance.default_command_timeout = COMMAND_TIMEOUT;
        })
        .with_connection_config(|connection| {
            connection.connection_timeout = COMMAND_TIMEOUT;
            connection.internal_command_timeout = COMMAND_TIMEOUT;
        })
        // 0 attempts means no limit: 100 ms, 200 ms, … up to 5 s between attempts.
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2));
    let client = builder.build()?;
    client.init().await?;
    Ok(client)
}

/// A Lua script loaded into Redis, run with `EVALSHA`.
pub(crate) struct Script {
    lua: &'static str,
    sha: String,
}

impl Script {
    /// Loads `lua` (`SCRIPT LOAD`).
    pub(crate) async fn load(
        client: &Client,
        lua: &'static str,
    ) -> Result<Script, fred::error::Error> {
        let sha: String = client.script_load(lua).await?;
        Ok(Script { lua, sha })
    }

    /// Runs the script; loads it again when Redis forgot it (a restart, `SCRIPT FLUSH`).
    pub(crate) async fn run(
        &self,
        client: &Client,
        keys: Vec<String>,
        args: Vec<Value>,
    ) -> Result<Value, fred::error::Error> {
        match client
            .evalsha(self.sha.as_str(), keys.clone(), args.clone())
            .await
        {
            Err(error) if error.details().starts_with("NOSCRIPT") => {
                let _: String = client.script_load(self.lua).await?;
                client.evalsha(self.sha.as_str(), keys, args).await
            }
            result => result,
        }
    }
}
