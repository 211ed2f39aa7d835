//! What `registry-node --dev` prints for someone trying the registry: where the API is and
//! the commands to try next.

use std::net::SocketAddr;

use crate::setup::{DataDir, DevRegistry};

/// Prints the dev banner to stdout (logs go to stderr).
pub fn print_banner(dir: &DataDir, dev: &DevRegistry, addr: SocketAddr, admin: &str) {
    let url = format!("http://{addr}");
    let node = if crate::is_default_api(addr) {
        String::new()
    } else {
        format!(" --node {url}")
    };
    let key = dev.root_key.display();
    let state = if dev.created { "created" } else { "reused" };
    println!(
        "\
{name} ({state} in {dir})
  registry id:  {id}
  authority id: {authority}
  root key:     {key}
  API:          {url}
  admin API:    {admin}  (registry peers deny|allow PEER_ID --admin {admin})

Try next, in another terminal:
  registry{node} status
  registry key new --out issuer.key          # prints the issuer's did:key
  registry{node} accredit --subject did:web:uni.example --grant issue:UniversityDegree \\
      --controller <issuer did:key> --key {key}
  registry{node} trust did:web:uni.example --action issue --resource UniversityDegree
  curl -s -X POST {url}/authorization -H 'content-type: application/json' \\
      -d '{{\"entity_id\":\"did:web:uni.example\",\"authority_id\":\"{authority}\",\"action\":\"issue\",\"resource\":\"UniversityDegree\"}}'
",
        name = dev.genesis.name,
        dir = dir.path().display(),
        id = dev.genesis.registry_id(),
        authority = dev.genesis.authority_id,
    );
}
