"""Sessions: isolated workspaces with limits (the sessions issue builds this out)."""
