import * as C from 'comlink'; console.log(Object.keys(C)); import D from 'comlink'; console.log(typeof D?.wrap)
