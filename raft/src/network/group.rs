//! openraft's side of the transport: the multi-raft `GroupRouter` over [`Router`] and the
//! per-group network factory.

use super::*;

impl<C: RaftTypeConfig> From<Failure> for RPCError<C> {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Unreachable(m) => RPCError::Unreachable(Unreachable::from_string(m)),
            Failure::Network(m) => RPCError::Network(NetworkError::from_string(m)),
        }
    }
}

fn streaming<C: RaftTypeConfig>(f: Failure) -> StreamingError<C> {
    match f {
        Failure::Unreachable(m) => StreamingError::Unreachable(Unreachable::from_string(m)),
        Failure::Network(m) => StreamingError::Network(NetworkError::from_string(m)),
    }
}

impl<C> GroupRouter<C, Uuid> for Router
where
    C: RaftTypeConfig<NodeId = u64, Node = NodeAddr>,
{
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &self,
        target: u64,
        group: Uuid,
        rpc: AppendEntriesRequest<C>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<C>, RPCError<C>> {
        // Heartbeats may wait for company; anything on the replication path goes at once.
        let urgent = !(self.heartbeats && rpc.entries.is_empty());
        Ok(self
            .rpc(
                target,
                group,
                RpcKind::Append,
                &rpc,
                urgent,
                option.hard_ttl(),
            )
            .await?)
    }

    async fn vote(
        &self,
        target: u64,
        group: Uuid,
        rpc: VoteRequest<C>,
        option: RPCOption,
    ) -> Result<VoteResponse<C>, RPCError<C>> {
        Ok(self
            .rpc(target, group, RpcKind::Vote, &rpc, true, option.hard_ttl())
            .await?)
    }

    async fn pre_vote(
        &self,
        target: u64,
        group: Uuid,
        rpc: VoteRequest<C>,
        option: RPCOption,
    ) -> Result<VoteResponse<C>, RPCError<C>> {
        Ok(self
            .rpc(
                target,
                group,
                RpcKind::PreVote,
                &rpc,
                true,
                option.hard_ttl(),
            )
            .await?)
    }

    async fn full_snapshot(
        &self,
        target: u64,
        group: Uuid,
        vote: VoteOf<C>,
        snapshot: SnapshotOf<C, Self::SnapshotData>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<C>, StreamingError<C>> {
        let _ = option;
        let envelope = SnapshotEnvelope::<C> {
            vote,
            meta: snapshot.meta,
        };
        let send = self.send_snapshot(target, group, &envelope, snapshot.snapshot);
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            r = send => r.map_err(streaming),
        }
    }

    async fn transfer_leader(
        &self,
        target: u64,
        group: Uuid,
        req: TransferLeaderRequest<C>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<C>, RPCError<C>> {
        Ok(self
            .rpc(
                target,
                group,
                RpcKind::TransferLeader,
                &req,
                true,
                option.hard_ttl(),
            )
            .await?)
    }

    fn backoff(&self) -> Option<Backoff> {
        Some(Backoff::new(std::iter::repeat(self.inner.backoff)))
    }
}

/// openraft's network factory for one group: hands out adapters bound to `(peer, group)`.
#[derive(Clone)]
pub struct NetworkFactory {
    /// The node's shared router.
    pub router: Router,
    /// The group every client of this factory talks for.
    pub group: Uuid,
}

impl<C> RaftNetworkFactory<C> for NetworkFactory
where
    C: RaftTypeConfig<NodeId = u64, Node = NodeAddr>,
{
    type Network = GroupNetworkAdapter<C, Uuid, Router>;

    async fn new_client(&mut self, target: u64, node: &NodeAddr) -> Self::Network {
        // No connection here: the shared client connects lazily and reuses connections.
        self.router.remember(target, &node.raft_addr);
        GroupNetworkAdapter::new(self.router.clone(), target, self.group)
    }

    async fn new_heartbeat_client(&mut self, target: u64, node: &NodeAddr) -> Self::Network {
        self.router.remember(target, &node.raft_addr);
        let router = Router {
            heartbeats: true,
            ..self.router.clone()
        };
        GroupNetworkAdapter::new(router, target, self.group)
    }
}
