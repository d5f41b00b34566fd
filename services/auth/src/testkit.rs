//! The auth half of every service's black-box tests (feature `testkit`): a
//! [`Stack`] with the auth service that issues the tokens, the hub's live
//! publisher and app registration filled in, so a service's tests add only
//! themselves (`vigor_auth::testkit::stack(backend).service(vigor_x::spec())`).

use std::sync::Arc;

use vigor_common::broker::Broker;
use vigor_common::live::LivePublisher;
use vigor_common::testkit::{Backend, Stack};

use crate::{AuthService, NewClient};

/// Auth alone on `backend`; add the services under test with [`Stack::service`].
pub fn stack(backend: Backend) -> Stack {
    Stack::new(backend, crate::spec(), live).register_apps_with(|db, config, ids, id, scopes| {
        Box::pin(async move {
            let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
            AuthService::new(db, &config, ids)?
                .create_client(NewClient::first_party_app(&id, &scopes))
                .await?;
            Ok(())
        })
    })
}

/// The hub's publisher in this process, as `vigor serve` all-in-one wires it.
fn live(broker: Arc<dyn Broker>) -> Arc<dyn LivePublisher> {
    Arc::new(vigor_hub::Publisher::in_process(
        broker,
        &Default::default(),
    ))
}
