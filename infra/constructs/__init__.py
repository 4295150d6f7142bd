"""One construct per concern; ``infra.service.DiaristService`` puts them together."""
