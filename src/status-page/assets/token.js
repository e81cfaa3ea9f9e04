// The API token reaches the page in the URL fragment (/status#token=…), which browsers never
// send to a server; it is moved to sessionStorage and wiped from the address bar at once.
const KEY = 'roost.status.token'

export function takeToken () {
  const params = new URLSearchParams(location.hash.slice(1))
  const given = params.get('token')
  if (given) {
    sessionStorage.setItem(KEY, given)
    history.replaceState(null, '', location.pathname + location.search)
  }
  return sessionStorage.getItem(KEY) ?? ''
}

export function keepToken (token) {
  sessionStorage.setItem(KEY, token)
}

export function forgetToken () {
  sessionStorage.removeItem(KEY)
}
