-- Argo CD action discovery for UserHoming: approve runs the plan published in status.proposal
-- (spec.approval: Manual).
local actions = {}
local pending = obj.status ~= nil and obj.status.proposal ~= nil and obj.status.proposal.id ~= nil and
  (obj.spec == nil or obj.spec.approvedProposal ~= obj.status.proposal.id)
actions["approve"] = {
  ["disabled"] = not pending,
  ["iconClass"] = "fa fa-fw fa-check",
  ["displayName"] = "Approve the proposal"
}
return actions
