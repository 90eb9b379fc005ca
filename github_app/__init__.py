"""The GitHub App as a client: every call this service makes to GitHub, below every app that uses it.

`client` holds the REST calls, `errors` their failures, `credentials` what is remembered between
calls, and `http` the one seam through which every outbound request leaves the process.
"""
