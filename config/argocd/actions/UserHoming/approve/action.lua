-- Approves the published plan: copies status.proposal.id into spec.approvedProposal. A plan that
-- changed since gets a new id, so an approval never runs a plan nobody saw.
if obj.status == nil or obj.status.proposal == nil or obj.status.proposal.id == nil then
  error("UserHoming " .. obj.metadata.name .. " has no proposal to approve (status.proposal)", 0)
end
obj.spec.approvedProposal = obj.status.proposal.id
return obj
