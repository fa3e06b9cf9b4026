import"./chunk-EK7ODJWE.js";var oe,S,He,bt,O,De,Ne,fe,$e,he,me,kt,Q={},Fe=[],wt=/acit|ex(?:s|g|n|p|$)|rph|grid|ows|mnc|ntw|ine[ch]|zoo|^ord|itera/i,ge=Array.isArray;function F(e,t){for(var n in t)e[n]=t[n];return e}function Oe(e){e&&e.parentNode&&e.parentNode.removeChild(e)}function L(e,t,n){var s,a,o,l={};for(o in t)o=="key"?s=t[o]:o=="ref"?a=t[o]:l[o]=t[o];if(arguments.length>2&&(l.children=arguments.length>3?oe.call(arguments,2):n),typeof e=="function"&&e.defaultProps!=null)for(o in e.defaultProps)l[o]===void 0&&(l[o]=e.defaultProps[o]);return ne(e,l,s,a,null)}function ne(e,t,n,s,a){var o={type:e,props:t,key:n,ref:s,__k:null,__:null,__b:0,__e:null,__d:void 0,__c:null,constructor:void 0,__v:a??++He,__i:-1,__u:0};return a==null&&S.vnode!=null&&S.vnode(o),o}function re(e){return e.children}function se(e,t){this.props=e,this.context=t}function K(e,t){if(t==null)return e.__?K(e.__,e.__i+1):null;for(var n;t<e.__k.length;t++)if((n=e.__k[t])!=null&&n.__e!=null)return n.__e;return typeof e.type=="function"?K(e):null}function Le(e){var t,n;if((e=e.__)!=null&&e.__c!=null){for(e.__e=e.__c.base=null,t=0;t<e.__k.length;t++)if((n=e.__k[t])!=null&&n.__e!=null){e.__e=e.__c.base=n.__e;break}return Le(e)}}function Me(e){(!e.__d&&(e.__d=!0)&&O.push(e)&&!ae.__r++||De!==S.debounceRendering)&&((De=S.debounceRendering)||Ne)(ae)}function ae(){var e,t,n,s,a,o,l,i;for(O.sort(fe);e=O.shift();)e.__d&&(t=O.length,s=void 0,o=(a=(n=e).__v).__e,l=[],i=[],n.__P&&((s=F({},a)).__v=a.__v+1,S.vnode&&S.vnode(s),ye(n.__P,s,a,n.__n,n.__P.namespaceURI,32&a.__u?[o]:null,l,o??K(a),!!(32&a.__u),i),s.__v=a.__v,s.__.__k[s.__i]=s,je(l,s,i),s.__e!=o&&Le(s)),O.length>t&&O.sort(fe));ae.__r=0}function ze(e,t,n,s,a,o,l,i,r,u,_){var c,d,p,$,m,k=s&&s.__k||Fe,g=t.length;for(n.__d=r,St(n,t,k),r=n.__d,c=0;c<g;c++)(p=n.__k[c])!=null&&(d=p.__i===-1?Q:k[p.__i]||Q,p.__i=c,ye(e,p,d,a,o,l,i,r,u,_),$=p.__e,p.ref&&d.ref!=p.ref&&(d.ref&&ve(d.ref,null,p),_.push(p.ref,p.__c||$,p)),m==null&&$!=null&&(m=$),65536&p.__u||d.__k===p.__k?r=We(p,r,e):typeof p.type=="function"&&p.__d!==void 0?r=p.__d:$&&(r=$.nextSibling),p.__d=void 0,p.__u&=-196609);n.__d=r,n.__e=m}function St(e,t,n){var s,a,o,l,i,r=t.length,u=n.length,_=u,c=0;for(e.__k=[],s=0;s<r;s++)(a=t[s])!=null&&typeof a!="boolean"&&typeof a!="function"?(l=s+c,(a=e.__k[s]=typeof a=="string"||typeof a=="number"||typeof a=="bigint"||a.constructor==String?ne(null,a,null,null,null):ge(a)?ne(re,{children:a},null,null,null):a.constructor===void 0&&a.__b>0?ne(a.type,a.props,a.key,a.ref?a.ref:null,a.__v):a).__=e,a.__b=e.__b+1,o=null,(i=a.__i=xt(a,n,l,_))!==-1&&(_--,(o=n[i])&&(o.__u|=131072)),o==null||o.__v===null?(i==-1&&c--,typeof a.type!="function"&&(a.__u|=65536)):i!==l&&(i==l-1?c--:i==l+1?c++:(i>l?c--:c++,a.__u|=65536))):a=e.__k[s]=null;if(_)for(s=0;s<u;s++)(o=n[s])!=null&&!(131072&o.__u)&&(o.__e==e.__d&&(e.__d=K(o)),Be(o,o))}function We(e,t,n){var s,a;if(typeof e.type=="function"){for(s=e.__k,a=0;s&&a<s.length;a++)s[a]&&(s[a].__=e,t=We(s[a],t,n));return t}e.__e!=t&&(t&&e.type&&!n.contains(t)&&(t=K(e)),n.insertBefore(e.__e,t||null),t=e.__e);do t=t&&t.nextSibling;while(t!=null&&t.nodeType===8);return t}function xt(e,t,n,s){var a=e.key,o=e.type,l=n-1,i=n+1,r=t[n];if(r===null||r&&a==r.key&&o===r.type&&!(131072&r.__u))return n;if(s>(r!=null&&!(131072&r.__u)?1:0))for(;l>=0||i<t.length;){if(l>=0){if((r=t[l])&&!(131072&r.__u)&&a==r.key&&o===r.type)return l;l--}if(i<t.length){if((r=t[i])&&!(131072&r.__u)&&a==r.key&&o===r.type)return i;i++}}return-1}function Ue(e,t,n){t[0]==="-"?e.setProperty(t,n??""):e[t]=n==null?"":typeof n!="number"||wt.test(t)?n:n+"px"}function te(e,t,n,s,a){var o;e:if(t==="style")if(typeof n=="string")e.style.cssText=n;else{if(typeof s=="string"&&(e.style.cssText=s=""),s)for(t in s)n&&t in n||Ue(e.style,t,"");if(n)for(t in n)s&&n[t]===s[t]||Ue(e.style,t,n[t])}else if(t[0]==="o"&&t[1]==="n")o=t!==(t=t.replace(/(PointerCapture)$|Capture$/i,"$1")),t=t.toLowerCase()in e||t==="onFocusOut"||t==="onFocusIn"?t.toLowerCase().slice(2):t.slice(2),e.l||(e.l={}),e.l[t+o]=n,n?s?n.u=s.u:(n.u=$e,e.addEventListener(t,o?me:he,o)):e.removeEventListener(t,o?me:he,o);else{if(a=="http://www.w3.org/2000/svg")t=t.replace(/xlink(H|:h)/,"h").replace(/sName$/,"s");else if(t!="width"&&t!="height"&&t!="href"&&t!="list"&&t!="form"&&t!="tabIndex"&&t!="download"&&t!="rowSpan"&&t!="colSpan"&&t!="role"&&t!="popover"&&t in e)try{e[t]=n??"";break e}catch{}typeof n=="function"||(n==null||n===!1&&t[4]!=="-"?e.removeAttribute(t):e.setAttribute(t,t=="popover"&&n==1?"":n))}}function Re(e){return function(t){if(this.l){var n=this.l[t.type+e];if(t.t==null)t.t=$e++;else if(t.t<n.u)return;return n(S.event?S.event(t):t)}}}function ye(e,t,n,s,a,o,l,i,r,u){var _,c,d,p,$,m,k,g,v,w,b,A,R,M,y,x,I=t.type;if(t.constructor!==void 0)return null;128&n.__u&&(r=!!(32&n.__u),o=[i=t.__e=n.__e]),(_=S.__b)&&_(t);e:if(typeof I=="function")try{if(g=t.props,v="prototype"in I&&I.prototype.render,w=(_=I.contextType)&&s[_.__c],b=_?w?w.props.value:_.__:s,n.__c?k=(c=t.__c=n.__c).__=c.__E:(v?t.__c=c=new I(g,b):(t.__c=c=new se(g,b),c.constructor=I,c.render=Et),w&&w.sub(c),c.props=g,c.state||(c.state={}),c.context=b,c.__n=s,d=c.__d=!0,c.__h=[],c._sb=[]),v&&c.__s==null&&(c.__s=c.state),v&&I.getDerivedStateFromProps!=null&&(c.__s==c.state&&(c.__s=F({},c.__s)),F(c.__s,I.getDerivedStateFromProps(g,c.__s))),p=c.props,$=c.state,c.__v=t,d)v&&I.getDerivedStateFromProps==null&&c.componentWillMount!=null&&c.componentWillMount(),v&&c.componentDidMount!=null&&c.__h.push(c.componentDidMount);else{if(v&&I.getDerivedStateFromProps==null&&g!==p&&c.componentWillReceiveProps!=null&&c.componentWillReceiveProps(g,b),!c.__e&&(c.shouldComponentUpdate!=null&&c.shouldComponentUpdate(g,c.__s,b)===!1||t.__v===n.__v)){for(t.__v!==n.__v&&(c.props=g,c.state=c.__s,c.__d=!1),t.__e=n.__e,t.__k=n.__k,t.__k.some(function(B){B&&(B.__=t)}),A=0;A<c._sb.length;A++)c.__h.push(c._sb[A]);c._sb=[],c.__h.length&&l.push(c);break e}c.componentWillUpdate!=null&&c.componentWillUpdate(g,c.__s,b),v&&c.componentDidUpdate!=null&&c.__h.push(function(){c.componentDidUpdate(p,$,m)})}if(c.context=b,c.props=g,c.__P=e,c.__e=!1,R=S.__r,M=0,v){for(c.state=c.__s,c.__d=!1,R&&R(t),_=c.render(c.props,c.state,c.context),y=0;y<c._sb.length;y++)c.__h.push(c._sb[y]);c._sb=[]}else do c.__d=!1,R&&R(t),_=c.render(c.props,c.state,c.context),c.state=c.__s;while(c.__d&&++M<25);c.state=c.__s,c.getChildContext!=null&&(s=F(F({},s),c.getChildContext())),v&&!d&&c.getSnapshotBeforeUpdate!=null&&(m=c.getSnapshotBeforeUpdate(p,$)),ze(e,ge(x=_!=null&&_.type===re&&_.key==null?_.props.children:_)?x:[x],t,n,s,a,o,l,i,r,u),c.base=t.__e,t.__u&=-161,c.__h.length&&l.push(c),k&&(c.__E=c.__=null)}catch(B){if(t.__v=null,r||o!=null){for(t.__u|=r?160:128;i&&i.nodeType===8&&i.nextSibling;)i=i.nextSibling;o[o.indexOf(i)]=null,t.__e=i}else t.__e=n.__e,t.__k=n.__k;S.__e(B,t,n)}else o==null&&t.__v===n.__v?(t.__k=n.__k,t.__e=n.__e):t.__e=Ct(n.__e,t,n,s,a,o,l,r,u);(_=S.diffed)&&_(t)}function je(e,t,n){t.__d=void 0;for(var s=0;s<n.length;s++)ve(n[s],n[++s],n[++s]);S.__c&&S.__c(t,e),e.some(function(a){try{e=a.__h,a.__h=[],e.some(function(o){o.call(a)})}catch(o){S.__e(o,a.__v)}})}function Ct(e,t,n,s,a,o,l,i,r){var u,_,c,d,p,$,m,k=n.props,g=t.props,v=t.type;if(v==="svg"?a="http://www.w3.org/2000/svg":v==="math"?a="http://www.w3.org/1998/Math/MathML":a||(a="http://www.w3.org/1999/xhtml"),o!=null){for(u=0;u<o.length;u++)if((p=o[u])&&"setAttribute"in p==!!v&&(v?p.localName===v:p.nodeType===3)){e=p,o[u]=null;break}}if(e==null){if(v===null)return document.createTextNode(g);e=document.createElementNS(a,v,g.is&&g),i&&(S.__m&&S.__m(t,o),i=!1),o=null}if(v===null)k===g||i&&e.data===g||(e.data=g);else{if(o=o&&oe.call(e.childNodes),k=n.props||Q,!i&&o!=null)for(k={},u=0;u<e.attributes.length;u++)k[(p=e.attributes[u]).name]=p.value;for(u in k)if(p=k[u],u!="children"){if(u=="dangerouslySetInnerHTML")c=p;else if(!(u in g)){if(u=="value"&&"defaultValue"in g||u=="checked"&&"defaultChecked"in g)continue;te(e,u,null,p,a)}}for(u in g)p=g[u],u=="children"?d=p:u=="dangerouslySetInnerHTML"?_=p:u=="value"?$=p:u=="checked"?m=p:i&&typeof p!="function"||k[u]===p||te(e,u,p,k[u],a);if(_)i||c&&(_.__html===c.__html||_.__html===e.innerHTML)||(e.innerHTML=_.__html),t.__k=[];else if(c&&(e.innerHTML=""),ze(e,ge(d)?d:[d],t,n,s,v==="foreignObject"?"http://www.w3.org/1999/xhtml":a,o,l,o?o[0]:n.__k&&K(n,0),i,r),o!=null)for(u=o.length;u--;)Oe(o[u]);i||(u="value",v==="progress"&&$==null?e.removeAttribute("value"):$!==void 0&&($!==e[u]||v==="progress"&&!$||v==="option"&&$!==k[u])&&te(e,u,$,k[u],a),u="checked",m!==void 0&&m!==e[u]&&te(e,u,m,k[u],a))}return e}function ve(e,t,n){try{if(typeof e=="function"){var s=typeof e.__u=="function";s&&e.__u(),s&&t==null||(e.__u=e(t))}else e.current=t}catch(a){S.__e(a,n)}}function Be(e,t,n){var s,a;if(S.unmount&&S.unmount(e),(s=e.ref)&&(s.current&&s.current!==e.__e||ve(s,null,t)),(s=e.__c)!=null){if(s.componentWillUnmount)try{s.componentWillUnmount()}catch(o){S.__e(o,t)}s.base=s.__P=null}if(s=e.__k)for(a=0;a<s.length;a++)s[a]&&Be(s[a],t,n||typeof e.type!="function");n||Oe(e.__e),e.__c=e.__=e.__e=e.__d=void 0}function Et(e,t,n){return this.constructor(e,n)}function Ke(e,t,n){var s,a,o,l;S.__&&S.__(e,t),a=(s=typeof n=="function")?null:n&&n.__k||t.__k,o=[],l=[],ye(t,e=(!s&&n||t).__k=L(re,null,[e]),a||Q,Q,t.namespaceURI,!s&&n?[n]:a?null:t.firstChild?oe.call(t.childNodes):null,o,!s&&n?n:a?a.__e:t.firstChild,s,l),je(o,e,l)}oe=Fe.slice,S={__e:function(e,t,n,s){for(var a,o,l;t=t.__;)if((a=t.__c)&&!a.__)try{if((o=a.constructor)&&o.getDerivedStateFromError!=null&&(a.setState(o.getDerivedStateFromError(e)),l=a.__d),a.componentDidCatch!=null&&(a.componentDidCatch(e,s||{}),l=a.__d),l)return a.__E=a}catch(i){e=i}throw e}},He=0,bt=function(e){return e!=null&&e.constructor==null},se.prototype.setState=function(e,t){var n;n=this.__s!=null&&this.__s!==this.state?this.__s:this.__s=F({},this.state),typeof e=="function"&&(e=e(F({},n),this.props)),e&&F(n,e),e!=null&&this.__v&&(t&&this._sb.push(t),Me(this))},se.prototype.forceUpdate=function(e){this.__v&&(this.__e=!0,e&&this.__h.push(e),Me(this))},se.prototype.render=re,O=[],Ne=typeof Promise=="function"?Promise.prototype.then.bind(Promise.resolve()):setTimeout,fe=function(e,t){return e.__v.__b-t.__v.__b},ae.__r=0,$e=0,he=Re(!1),me=Re(!0),kt=0;var X,E,be,Ve,le=0,tt=[],T=S,Je=T.__b,Ge=T.__r,Ye=T.diffed,Qe=T.__c,Xe=T.unmount,Ze=T.__;function we(e,t){T.__h&&T.__h(E,e,le||t),le=0;var n=E.__H||(E.__H={__:[],__h:[]});return e>=n.__.length&&n.__.push({}),n.__[e]}function h(e){return le=1,It(st,e)}function It(e,t,n){var s=we(X++,2);if(s.t=e,!s.__c&&(s.__=[n?n(t):st(void 0,t),function(i){var r=s.__N?s.__N[0]:s.__[0],u=s.t(r,i);r!==u&&(s.__N=[u,s.__[1]],s.__c.setState({}))}],s.__c=E,!E.u)){var a=function(i,r,u){if(!s.__c.__H)return!0;var _=s.__c.__H.__.filter(function(d){return!!d.__c});if(_.every(function(d){return!d.__N}))return!o||o.call(this,i,r,u);var c=!1;return _.forEach(function(d){if(d.__N){var p=d.__[0];d.__=d.__N,d.__N=void 0,p!==d.__[0]&&(c=!0)}}),!(!c&&s.__c.props===i)&&(!o||o.call(this,i,r,u))};E.u=!0;var o=E.shouldComponentUpdate,l=E.componentWillUpdate;E.componentWillUpdate=function(i,r,u){if(this.__e){var _=o;o=void 0,a(i,r,u),o=_}l&&l.call(this,i,r,u)},E.shouldComponentUpdate=a}return s.__N||s.__}function P(e,t){var n=we(X++,3);!T.__s&&nt(n.__H,t)&&(n.__=e,n.i=t,E.__H.__h.push(n))}function Se(e){return le=5,Tt(function(){return{current:e}},[])}function Tt(e,t){var n=we(X++,7);return nt(n.__H,t)&&(n.__=e(),n.__H=t,n.__h=e),n.__}function Pt(){for(var e;e=tt.shift();)if(e.__P&&e.__H)try{e.__H.__h.forEach(ie),e.__H.__h.forEach(ke),e.__H.__h=[]}catch(t){e.__H.__h=[],T.__e(t,e.__v)}}T.__b=function(e){E=null,Je&&Je(e)},T.__=function(e,t){e&&t.__k&&t.__k.__m&&(e.__m=t.__k.__m),Ze&&Ze(e,t)},T.__r=function(e){Ge&&Ge(e),X=0;var t=(E=e.__c).__H;t&&(be===E?(t.__h=[],E.__h=[],t.__.forEach(function(n){n.__N&&(n.__=n.__N),n.i=n.__N=void 0})):(t.__h.forEach(ie),t.__h.forEach(ke),t.__h=[],X=0)),be=E},T.diffed=function(e){Ye&&Ye(e);var t=e.__c;t&&t.__H&&(t.__H.__h.length&&(tt.push(t)!==1&&Ve===T.requestAnimationFrame||((Ve=T.requestAnimationFrame)||qt)(Pt)),t.__H.__.forEach(function(n){n.i&&(n.__H=n.i),n.i=void 0})),be=E=null},T.__c=function(e,t){t.some(function(n){try{n.__h.forEach(ie),n.__h=n.__h.filter(function(s){return!s.__||ke(s)})}catch(s){t.some(function(a){a.__h&&(a.__h=[])}),t=[],T.__e(s,n.__v)}}),Qe&&Qe(e,t)},T.unmount=function(e){Xe&&Xe(e);var t,n=e.__c;n&&n.__H&&(n.__H.__.forEach(function(s){try{ie(s)}catch(a){t=a}}),n.__H=void 0,t&&T.__e(t,n.__v))};var et=typeof requestAnimationFrame=="function";function qt(e){var t,n=function(){clearTimeout(s),et&&cancelAnimationFrame(t),setTimeout(e)},s=setTimeout(n,100);et&&(t=requestAnimationFrame(n))}function ie(e){var t=E,n=e.__c;typeof n=="function"&&(e.__c=void 0,n()),E=t}function ke(e){var t=E;e.__c=e.__(),E=t}function nt(e,t){return!e||e.length!==t.length||t.some(function(n,s){return n!==e[s]})}function st(e,t){return typeof t=="function"?t(e):t}var ot=function(e,t,n,s){var a;t[0]=0;for(var o=1;o<t.length;o++){var l=t[o++],i=t[o]?(t[0]|=l?1:2,n[t[o++]]):t[++o];l===3?s[0]=i:l===4?s[1]=Object.assign(s[1]||{},i):l===5?(s[1]=s[1]||{})[t[++o]]=i:l===6?s[1][t[++o]]+=i+"":l?(a=e.apply(i,ot(e,i,n,["",null])),s.push(a),i[0]?t[0]|=2:(t[o-2]=0,t[o]=a)):s.push(i)}return s},at=new Map;function V(e){var t=at.get(this);return t||(t=new Map,at.set(this,t)),(t=ot(this,t.get(e)||(t.set(e,t=function(n){for(var s,a,o=1,l="",i="",r=[0],u=function(d){o===1&&(d||(l=l.replace(/^\s*\n\s*|\s*\n\s*$/g,"")))?r.push(0,d,l):o===3&&(d||l)?(r.push(3,d,l),o=2):o===2&&l==="..."&&d?r.push(4,d,0):o===2&&l&&!d?r.push(5,0,!0,l):o>=5&&((l||!d&&o===5)&&(r.push(o,0,l,a),o=6),d&&(r.push(o,d,0,a),o=6)),l=""},_=0;_<n.length;_++){_&&(o===1&&u(),u(_));for(var c=0;c<n[_].length;c++)s=n[_][c],o===1?s==="<"?(u(),r=[r],o=3):l+=s:o===4?l==="--"&&s===">"?(o=1,l=""):l=s+l[0]:i?s===i?i="":l+=s:s==='"'||s==="'"?i=s:s===">"?(u(),o=1):o&&(s==="="?(o=5,a=l,l=""):s==="/"&&(o<5||n[_][c+1]===">")?(u(),o===3&&(r=r[0]),o=r,(r=r[0]).push(2,0,o),o=0):s===" "||s==="	"||s===`
`||s==="\r"?(u(),o=2):l+=s),o===3&&l==="!--"&&(o=4,r=r[0])}return u(),r}(e)),t),arguments,[])).length>1?t:t[0]}var ue="/api/v1",Z="roo.console.refresh",N=null,ce=null,xe=()=>{},H=class extends Error{constructor(t,n){super(n?.detail||n?.title||`HTTP ${t}`),this.status=t,this.problem=n||{}}};function rt(e){xe=e}function it(){return N!==null}function pe(){return sessionStorage.getItem(Z)!==null}function lt(e){return N=e.token,sessionStorage.setItem(Z,e.refreshToken),e.user}function Ce(){N=null,sessionStorage.removeItem(Z)}async function Ee(e){try{return await e.json()}catch{return{title:e.statusText}}}function ct(){let e=new URLSearchParams(location.hash.slice(1)),t=e.get("token"),n=e.get("refreshToken");return!t||!n?!1:(N=t,sessionStorage.setItem(Z,n),history.replaceState(null,"",location.pathname+location.search),!0)}async function ut(e,t){let n=await fetch(`${ue}/auth/login`,{method:"POST",headers:{"Content-Type":"application/json"},body:JSON.stringify({email:e,password:t})});if(!n.ok)throw new H(n.status,await Ee(n));return lt(await n.json())}function J(){return ce||(ce=(async()=>{let e=sessionStorage.getItem(Z);if(!e)throw new H(401,{title:"Not signed in"});let t=await fetch(`${ue}/auth/refresh`,{method:"POST",headers:{"Content-Type":"application/json"},body:JSON.stringify({refreshToken:e})});if(!t.ok)throw Ce(),new H(t.status,await Ee(t));return lt(await t.json())})().finally(()=>{ce=null})),ce}async function pt(){try{N&&await D("POST","/auth/logout",void 0,{retry:!1})}catch{}finally{Ce()}}async function D(e,t,n,s={}){let{raw:a=!1,headers:o={},retry:l=!0}=s,i={method:e,headers:{...o}};N&&(i.headers.Authorization=`Bearer ${N}`),n!==void 0&&(typeof n=="string"||n instanceof Blob||n instanceof ArrayBuffer?i.body=n:(i.body=JSON.stringify(n),i.headers["Content-Type"]="application/json"));let r=await fetch(ue+t,i);if(r.status===401&&l&&pe()){try{await J()}catch(u){throw xe(),u}return D(e,t,n,{...s,retry:!1})}if(r.status===401&&(Ce(),xe()),!r.ok&&r.status!==304)throw new H(r.status,await Ee(r));return a?r:r.status===204?null:r.json()}var U=e=>D("GET",e),z=(e,t)=>D("POST",e,t),W=(e,t)=>D("PUT",e,t),G=e=>D("DELETE",e);function Ie(e,t,n,s,a=!0){return new Promise((o,l)=>{let i=new XMLHttpRequest;i.open("POST",ue+e),N&&i.setRequestHeader("Authorization",`Bearer ${N}`),i.setRequestHeader("Content-Type",n),i.upload.onprogress=r=>s(r.loaded,r.lengthComputable?r.total:t.size),i.onerror=()=>l(new H(0,{title:"The upload failed (network)"})),i.onload=()=>{let r=null;try{r=JSON.parse(i.responseText)}catch{r={title:i.statusText}}i.status===401&&a&&pe()?J().then(()=>Ie(e,t,n,s,!1).then(o,l),l):i.status>=200&&i.status<300?o(r):l(new H(i.status,r))},i.send(t)})}var Dt=new Set([1e3,1001,1005,1006,1011,1012,4408]),de=class{constructor(t,{onEvent:n,onHello:s,onStatus:a}){this.sessionId=t,this.onEvent=n,this.onHello=s,this.onStatus=a,this.lastSeq=0,this.socket=null,this.closed=!1,this.delay=500,this.pending=new Map,this.nextId=1,this.connects=0}async open(){if(this.closed)return;this.onStatus("connecting");let t;try{({ticket:t}=await z(`/sessions/${this.sessionId}/ws-ticket`))}catch(o){if(o.status===404||o.status===401||o.status===403){this.onStatus("closed");return}this.retry();return}if(this.closed)return;let s=`${location.protocol==="https:"?"wss":"ws"}://${location.host}/api/v1/sessions/${this.sessionId}/ws?ticket=${encodeURIComponent(t)}&lastSeq=${this.lastSeq}`,a=new WebSocket(s);this.socket=a,a.onmessage=o=>this.receive(JSON.parse(o.data)),a.onclose=o=>this.dropped(a,o.code)}receive(t){if(t.seq!==void 0){if(t.seq<=this.lastSeq)return;this.lastSeq=t.seq,this.onEvent(t);return}if(t.type==="hello")this.connects+=1,this.delay=500,this.onStatus("live"),this.onHello(t);else if((t.type==="ack"||t.type==="error")&&this.pending.has(t.id)){let{resolve:n,reject:s}=this.pending.get(t.id);this.pending.delete(t.id),t.type==="ack"?n(t.task):s(Object.assign(new Error(t.problem?.detail||t.problem?.title),t.problem))}}async dropped(t,n){if(t===this.socket){this.socket=null;for(let{reject:s}of this.pending.values())s(new Error("connection lost"));if(this.pending.clear(),!this.closed)if(n===4401){try{await J()}catch{this.onStatus("closed");return}this.retry()}else Dt.has(n)?this.retry():this.onStatus("closed")}}retry(){this.onStatus("reconnecting");let t=this.delay*(.75+Math.random()/2);this.delay=Math.min(this.delay*2,1e4),setTimeout(()=>this.open(),t)}send(t){if(!this.socket||this.socket.readyState!==WebSocket.OPEN)return Promise.reject(new Error("not connected: try again in a moment"));let n=`c${this.nextId++}`;return new Promise((s,a)=>{this.pending.set(n,{resolve:s,reject:a}),this.socket.send(JSON.stringify({...t,id:n}))})}close(){this.closed=!0,this.socket&&this.socket.close(1e3),this.socket=null}};function Te(e){if(Array.isArray(e))return e;let t=[];for(let n of String(e||"").split(`
`)){let s=n.match(/^\s*(?:[-*]\s*)?\[( |x|X|-|~)\]\s*(.*)$/);s&&t.push({status:s[1]===" "?"pending":s[1]==="-"||s[1]==="~"?"in_progress":"completed",content:s[2]})}return t}function Pe(){return{items:[],calls:new Map,asks:new Map,tasks:new Map,count:0,lastSeq:0}}function Mt(e,t){return e.tasks.has(t)||e.tasks.set(t,{id:t,state:"queued",todos:[],usage:null}),e.tasks.get(t)}function dt(e,t){let n=t.data||{},s=e.items,a=s[s.length-1];e.count+=1,e.lastSeq=t.seq;let o=t.taskId?Mt(e,t.taskId):null;switch(t.event){case"task.created":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:`Task started: ${n.mode||""} ${n.model||""}`.trim()}),n.mode&&(o.mode=n.mode);break;case"task.state":o.state=n.to;break;case"message":a&&a.type==="text"&&a.kind===n.kind&&a.taskId===t.taskId?a.text+=n.delta:s.push({type:"text",seq:t.seq,taskId:t.taskId,kind:n.kind,text:n.delta});break;case"tool.execution":if(n.phase==="start"){let l={type:"tool",seq:t.seq,taskId:t.taskId,callId:n.callId,tool:n.tool,params:n.params||{},output:"",end:null};e.calls.set(n.callId,l),s.push(l)}else{let l=e.calls.get(n.callId);if(!l)break;n.phase==="output"?l.output+=n.output||"":n.phase==="end"&&(l.end=n)}break;case"approval.required":{let l={type:"ask",seq:t.seq,taskId:t.taskId,...n,resolved:null};e.asks.set(n.approvalId,l),s.push(l);break}case"approval.resolved":{let l=e.asks.get(n.approvalId);l&&(l.resolved=n);break}case"task.todos":o.todos=Te(n.todos);break;case"task.progress":o.usage=n;break;case"task.mode":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:`Mode: ${n.from||"?"} \u2192 ${n.to||n.mode||"?"}`});break;case"task.complete":s.push({type:"complete",seq:t.seq,taskId:t.taskId,result:n.result||"",usage:n.usage});break;case"task.cancelled":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:`Cancelled${n.reason?`: ${n.reason}`:""}`});break;case"task.interrupted":s.push({type:"error",seq:t.seq,taskId:t.taskId,text:`Interrupted: ${n.message||n.reason||""}`});break;case"error.occurred":s.push({type:"error",seq:t.seq,taskId:t.taskId,text:`${n.reason||"error"}: ${n.message||""}`});break;case"task.delegated":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:"Subtask started"});break;default:break}}var q=V.bind(L),ee=e=>e.split("/").map(encodeURIComponent).join("/");function _t({sessionId:e}){let t=`/sessions/${e}/files`,[n,s]=h([]),[a,o]=h(null),[l,i]=h(""),[r,u]=h(!1),[_,c]=h(null),[d,p]=h(null),[$,m]=h(!1),[k,g]=h(null),v=()=>D("GET",`${t}?recursive=true&limit=2000`).then(y=>s(y.entries),p);P(()=>{v()},[e]),P(()=>{if(!a||a.encoding!=="utf-8"||$)return;let y=!1;return import("./highlight-5T3XMCP6.js").then(x=>{let I=x.highlight(a.text,a.path);y||g(I&&{...I,path:a.path,etag:a.etag})},()=>null),()=>{y=!0}},[a&&a.path,a&&a.etag,$]);async function w(y){p(null),c(null),u(!1);try{let x=await D("GET",`${t}/${ee(y)}?format=json`);o(x),i(x.encoding==="utf-8"?x.text:"")}catch(x){p(x)}}async function b(y){y.preventDefault(),p(null),c(null);try{let I=await(await D("PUT",`${t}/${ee(a.path)}`,new Blob([l]),{raw:!0,headers:{"Content-Type":"application/octet-stream","If-Match":a.etag}})).json();o({...a,etag:I.etag,text:l,size:I.size}),u(!1),c("Saved."),v()}catch(x){x.status===412?u(!0):p(x)}}async function A(y){let x=y.target.files[0];if(!x)return;let I=a&&a.path.includes("/")?a.path.slice(0,a.path.lastIndexOf("/")+1):"";p(null),c(null);try{await D("POST",`${t}/${ee(I+x.name)}`,x,{headers:{"Content-Type":"application/octet-stream"}}),await v(),await w(I+x.name),c(`Uploaded ${I+x.name}.`)}catch(B){p(B)}finally{y.target.value=""}}async function R(){if(confirm(`Delete ${a.path}?`))try{await D("DELETE",`${t}/${ee(a.path)}`),o(null),v()}catch(y){p(y)}}let M=k&&a&&k.path===a.path&&k.etag===a.etag?k:null;return q`<section class="files">
    <nav class="tree" aria-label="Workspace files">
      <div class="row">
        <button class="link" onClick=${v}>↻ Refresh</button>
        <label class="upload">Upload <input type="file" aria-label="Upload a file" onChange=${A} /></label>
      </div>
      <ul>
        ${n.map(y=>q`<li key=${y.path} class=${`depth-${Math.min(y.path.split("/").length-1,6)}`}>
            ${y.type==="file"?q`<button class="link file" data-path=${y.path} onClick=${()=>w(y.path)}>${y.name}</button>`:q`<span class="dir">${y.name}${y.type==="dir"?"/":""}</span>`}
          </li>`)}
      </ul>
    </nav>
    <div class="editor">
      ${a?q`<form onSubmit=${b}>
            <div class="row"><code data-open-path=${a.path}>${a.path}</code><span class="muted">${a.size} bytes</span>
              <span class="spacer"></span>
              <a href="#" class="link" onClick=${y=>(y.preventDefault(),Rt(t,a.path))}>Download</a>
              <button type="button" class="deny" onClick=${R}>Delete</button>
              ${a.encoding==="utf-8"?$?q`<button type="button" onClick=${()=>m(!1)} disabled=${l!==a.text}
                      title=${l!==a.text?"Save or reload first":"Highlighted, read only"}>View</button>`:q`<button type="button" onClick=${()=>m(!0)}>Edit</button>`:null}
              ${$&&a.encoding==="utf-8"?q`<button type="submit">Save</button>`:null}
            </div>
            ${r?q`<div class="conflict" role="alert">
                  This file changed since you opened it; your edit was not saved.
                  <button type="button" onClick=${()=>w(a.path)}>Load their version (drops yours)</button>
                </div>`:null}
            ${_?q`<p class="good" role="status">${_}</p>`:null}
            ${a.encoding!=="utf-8"?q`<p class="muted">A binary file: download it.</p>`:$?q`<textarea class="code" spellcheck="false" aria-label="File content" value=${l} onInput=${y=>i(y.target.value)}></textarea>`:q`<pre class="code view" aria-label="File content (read only)" tabindex="0" data-language=${M?M.language:""}>${M?M.nodes.map(ft):a.text}</pre>`}
          </form>`:q`<p class="muted">Pick a file.</p>`}
      <${Ut} error=${d} />
    </div>
  </section>`}function ft(e){return typeof e=="string"?e:q`<span class=${e.cls}>${e.children.map(ft)}</span>`}function Ut({error:e}){return e?q`<p class="error" role="alert">${e.message}</p>`:null}async function Rt(e,t){let n=await D("GET",`${e}/${ee(t)}`,void 0,{raw:!0}),s=URL.createObjectURL(await n.blob()),a=document.createElement("a");a.href=s,a.download=t.split("/").pop(),a.click(),setTimeout(()=>URL.revokeObjectURL(s),1e3)}var C=V.bind(L),ht=["viewer","member","admin"],Ht=["anthropic","openai"],_e=e=>e?new Date(e).toLocaleString():"\u2014";function Y({error:e}){return e?C`<p class="error" role="alert">${e.message}</p>`:null}function Nt({permissions:e}){let[t,n]=h([]),[s,a]=h(null),[o,l]=h(!1),[i,r]=h(null),u=()=>U("/auth/api-keys").then(n,r);P(()=>{u()},[]);async function _(p){p.preventDefault();let $=new FormData(p.target),m={name:$.get("name"),scopes:$.getAll("scope")};$.get("expires")&&(m.expiresAt=new Date(`${$.get("expires")}T23:59:59Z`).toISOString()),r(null);try{a(await z("/auth/api-keys",m)),l(!1),p.target.reset(),u()}catch(k){r(k)}}async function c(p){if(confirm(`Revoke the key "${p.name}"? Programs using it stop working.`))try{await G(`/auth/api-keys/${p.id}`),u()}catch($){r($)}}async function d(){try{await navigator.clipboard.writeText(s.key),l(!0)}catch{l(!1)}}return C`<section aria-labelledby="keys-title">
    <h2 id="keys-title">API keys</h2>
    ${s?C`<div class="created-key" role="status">
          <p>The key <strong>${s.name}</strong>: copy it now, it is not shown again.</p>
          <div class="row"><code class="secret" data-secret>${s.key}</code>
            <button type="button" onClick=${d}>${o?"Copied":"Copy"}</button>
            <button type="button" onClick=${()=>a(null)}>Done</button></div>
        </div>`:null}
    <table class="table">
      <thead><tr><th>Name</th><th>Key</th><th>Scopes</th><th>Created</th><th>Last used</th><th>Expires</th><th></th></tr></thead>
      <tbody>
        ${t.map(p=>C`<tr key=${p.id} data-key=${p.name} class=${p.revokedAt?"revoked":""}>
            <td>${p.name}</td><td><code>${p.prefix}…</code></td><td>${p.scopes.join(", ")}</td>
            <td>${_e(p.createdAt)}</td><td>${_e(p.lastUsedAt)}</td><td>${_e(p.expiresAt)}</td>
            <td>${p.revokedAt?C`<span class="muted">revoked</span>`:C`<button class="deny" onClick=${()=>c(p)} aria-label=${`Revoke ${p.name}`}>Revoke</button>`}</td>
          </tr>`)}
      </tbody>
    </table>
    <form class="newkey" onSubmit=${_} aria-label="Create an API key">
      <label>Name <input name="name" required maxlength="100" /></label>
      <fieldset><legend>Scopes</legend>
        ${e.map(p=>C`<label class="check"><input type="checkbox" name="scope" value=${p} checked=${p.endsWith(":read")} /> ${p}</label>`)}
      </fieldset>
      <label>Expires (optional) <input name="expires" type="date" /></label>
      <button type="submit">Create key</button>
    </form>
    <${Y} error=${i} />
  </section>`}function Ft({me:e}){let[t,n]=h([]),[s,a]=h(null),o=()=>U("/users?limit=200").then(i=>n(i.items),a);P(()=>{o()},[]);async function l(i,r){a(null);try{await D("PATCH",`/users/${i.id}`,r)}catch(u){a(u)}o()}return C`<section aria-labelledby="users-title">
    <h2 id="users-title">Users</h2>
    <table class="table">
      <thead><tr><th>Email</th><th>Role</th><th>Disabled</th><th>Last sign-in</th></tr></thead>
      <tbody>
        ${t.map(i=>C`<tr key=${i.id} data-user-row=${i.email}>
            <td>${i.email}</td>
            <td><select aria-label=${`Role of ${i.email}`} value=${ht.filter(r=>i.roles.includes(r)).pop()||"viewer"}
                 disabled=${i.id===e.userId} onChange=${r=>l(i,{roles:[r.target.value]})}>
              ${ht.map(r=>C`<option value=${r}>${r}</option>`)}</select></td>
            <td><input type="checkbox" aria-label=${`Disable ${i.email}`} checked=${i.disabled} disabled=${i.id===e.userId}
                 onChange=${r=>l(i,{disabled:r.target.checked})} /></td>
            <td>${_e(i.lastLoginAt)}</td>
          </tr>`)}
      </tbody>
    </table>
    <${Y} error=${s} />
  </section>`}function Ot(){let[e,t]=h(null),[n,s]=h(null),[a,o]=h(null);P(()=>{U("/auth/profile").then(t,o)},[]);async function l(r){r.preventDefault(),o(null);try{t(await W("/auth/profile",{displayName:new FormData(r.target).get("displayName")})),s("Profile saved.")}catch(u){o(u)}}async function i(r){r.preventDefault();let u=new FormData(r.target);o(null);try{await W("/auth/password",{currentPassword:u.get("current"),newPassword:u.get("new"),revokeApiKeys:u.get("revoke")==="on"}),r.target.reset(),s("Password changed: sign in again."),setTimeout(()=>location.reload(),1500)}catch(_){o(_)}}return e?C`<section aria-labelledby="profile-title">
    <h2 id="profile-title">Profile</h2>
    <form class="row" onSubmit=${l} aria-label="Profile">
      <label>Display name <input name="displayName" value=${e.displayName} maxlength="100" /></label>
      <button type="submit">Save profile</button>
    </form>
    ${e.provider==="local"?C`<form class="row" onSubmit=${i} aria-label="Change password">
          <label>Current password <input name="current" type="password" autocomplete="current-password" required /></label>
          <label>New password <input name="new" type="password" autocomplete="new-password" minlength="12" required /></label>
          <label class="check"><input name="revoke" type="checkbox" checked /> revoke my API keys</label>
          <button type="submit">Change password</button>
        </form>`:null}
    ${n?C`<p class="good" role="status">${n}</p>`:null}
    <${Y} error=${a} />
  </section>`:C`<${Y} error=${a} />`}function Lt(){let[e,t]=h([]),[n,s]=h(null),a=()=>U("/auth/providers").then(t,s);P(()=>{a()},[]);async function o(i,r){i.preventDefault();let u=new FormData(i.target),_={};if(u.get("apiKey")&&(_.apiKey=u.get("apiKey")),u.get("baseUrl")&&(_.baseUrl=u.get("baseUrl")),!!Object.keys(_).length){s(null);try{await W(`/auth/providers/${r}`,_),i.target.reset(),a()}catch(c){s(c)}}}async function l(i){try{await G(`/auth/providers/${i}`),a()}catch(r){s(r)}}return C`<section aria-labelledby="providers-title">
    <h2 id="providers-title">Model provider keys</h2>
    <p class="muted">Your own keys for the agent's model requests; without one, the service's are used. A key is never shown again.</p>
    ${Ht.map(i=>{let r=e.find(u=>u.provider===i);return C`<form class="row provider" key=${i} data-provider=${i} onSubmit=${u=>o(u,i)} aria-label=${`${i} key`}>
        <strong>${i}</strong>
        <span class="muted">${r?`${r.hasApiKey?`key ${r.keyHint||"stored"}`:"no key"}${r.baseUrl?` \xB7 ${r.baseUrl}`:""}`:"not set"}</span>
        <input name="apiKey" type="password" autocomplete="off" placeholder="API key" aria-label=${`${i} API key`} />
        <input name="baseUrl" type="url" placeholder="Base URL (optional)" aria-label=${`${i} base URL`} />
        <button type="submit">Save</button>
        ${r?C`<button type="button" class="deny" onClick=${()=>l(i)}>Remove</button>`:null}
      </form>`})}
    <${Y} error=${n} />
  </section>`}function mt(){let[e,t]=h(null),[n,s]=h(null);return P(()=>{U("/auth/whoami").then(t,s)},[]),e?C`<section class="session account">
    <h1>Account</h1>
    <p><strong>${e.email}</strong> <span class="muted">· ${e.roles.join(", ")}</span></p>
    <${Ot} />
    ${e.permissions.includes("profile:write")?C`<${Lt} />`:null}
    ${e.permissions.includes("apikeys:manage")?C`<${Nt} permissions=${e.permissions} />`:null}
    ${e.permissions.includes("users:admin")?C`<${Ft} me=${e} />`:null}
  </section>`:C`<section class="session"><${Y} error=${n} /></section>`}var f=V.bind(L),qe=200,Ae=new Set(["queued","running","awaiting_approval","awaiting_input"]);function $t(){if(location.hash==="#/account")return{sessionId:null,tab:"account"};let[,e,t]=location.hash.match(/^#\/s\/([0-9a-f-]+)(?:\/(files))?/)||[];return{sessionId:e||null,tab:t||"task"}}function zt(){let[e,t]=h($t());return P(()=>{let n=()=>t($t());return window.addEventListener("hashchange",n),()=>window.removeEventListener("hashchange",n)},[]),e}function j({error:e}){if(!e)return null;let t=Array.isArray(e.problem?.errors)?e.problem.errors:[];return f`<div class="error" role="alert">
    <p>${e.message||String(e)}</p>
    ${t.length?f`<ul>${t.map(n=>f`<li data-field=${n.field}>${String(n.field||"").split(".").pop()}: ${n.message}</li>`)}</ul>`:null}
  </div>`}function Wt({onSignedIn:e}){let[t,n]=h(null),[s,a]=h(!1),[o,l]=h([]);P(()=>{U("/auth/oauth/providers").then(r=>l(r.providers),()=>l([]))},[]);async function i(r){r.preventDefault();let u=new FormData(r.target);a(!0),n(null);try{e(await ut(u.get("email"),u.get("password")))}catch(_){n(_)}finally{a(!1)}}return f`<main class="signin">
    <form onSubmit=${i} aria-label="Sign in">
      <h1>roo console</h1>
      <label>Email <input name="email" type="email" autocomplete="username" required /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
      <button type="submit" disabled=${s}>Sign in</button>
      ${o.map(r=>f`<a class="button" href=${`/api/v1/auth/oauth/${encodeURIComponent(r.name)}/authorize`}>Sign in with ${r.displayName}</a>`)}
      <${j} error=${t} />
    </form>
  </main>`}var gt=[["maxMemoryMB","Memory (MB)","512"],["maxCpuPercent","CPU (%)","100"],["maxDiskMB","Disk (MB)","1024"],["maxExecutionTime","Command time (s)","300"],["maxConcurrentTasks","Tasks at once","1"]];function jt(e){let t=e.toLowerCase();return t.endsWith(".zip")?"application/zip":t.endsWith(".tar")?"application/x-tar":t.endsWith(".tar.gz")||t.endsWith(".tgz")?"application/gzip":t.endsWith(".tar.bz2")?"application/x-bzip2":t.endsWith(".tar.xz")?"application/x-xz":"application/octet-stream"}function Bt({current:e,onChange:t,version:n}){let[s,a]=h([]),[o,l]=h(null),i=()=>U("/sessions?limit=100").then(d=>a(d.items),l);P(()=>{i()},[n]);let[r,u]=h(null);async function _(d){d.preventDefault();let p=new FormData(d.target),$=p.get("name").trim(),m={};for(let[w]of gt){let b=String(p.get(w)||"").trim();b&&(m[w]=Number(b))}let k=p.get("archive"),g=k&&k.size?k:null;l(null),u(null);let v;try{v=await z("/sessions",{...$?{name:$}:{},...Object.keys(m).length?{config:{limits:m}}:{}})}catch(w){l(w);return}if(d.target.reset(),await i(),!g){location.hash=`#/s/${v.id}`;return}try{u({name:g.name,sent:0,total:g.size});let w=await Ie(`/sessions/${v.id}/workspace/import`,g,jt(g.name),(b,A)=>u({name:g.name,sent:b,total:A}));u({name:g.name,sent:g.size,total:g.size,done:w})}catch(w){u(null),l(new H(w.status,{...w.problem,detail:`Session "${v.name}" created, but its archive was not imported: ${w.message}`}))}location.hash=`#/s/${v.id}/files`}async function c(d){if(confirm(`Delete session "${d.name}" and its workspace?`))try{await G(`/sessions/${d.id}`),e===d.id&&(location.hash="#/"),await i(),t()}catch(p){l(p)}}return f`<nav class="sessions" aria-label="Sessions">
    <form onSubmit=${_} class="create" aria-label="Create a session">
      <div class="row">
        <input name="name" placeholder="New session name" aria-label="New session name" maxlength="200" />
        <button type="submit" disabled=${r&&!r.done}>Create</button>
      </div>
      <details>
        <summary>Limits and archive</summary>
        <p class="muted">Empty: the default (shown). At most your role's quota.</p>
        ${gt.map(([d,p,$])=>f`<label class="limit">${p}
            <input name=${d} type="number" min="1" step="1" inputmode="numeric" placeholder=${$} aria-label=${p} />
          </label>`)}
        <label class="limit">Start from an archive
          <input name="archive" type="file" accept=".zip,.tar,.tgz,.tar.gz,.tar.bz2,.tar.xz" aria-label="Start from an archive" />
        </label>
      </details>
    </form>
    ${r?f`<p class="muted" role="status" data-import=${r.done?"done":"sending"}>
          ${r.done?`Imported ${r.name}: ${r.done.files} files${r.done.directories?`, ${r.done.directories} folders`:""}.`:f`Importing ${r.name}… <progress max=${r.total||1} value=${r.sent}></progress>`}
        </p>`:null}
    <${j} error=${o} />
    <ul>
      ${s.map(d=>f`<li key=${d.id} class=${d.id===e?"current":""}>
          <a href=${`#/s/${d.id}`}>${d.name}</a>
          <span class="muted">${d.state}</span>
          <button class="icon" title="Delete session" aria-label=${`Delete ${d.name}`} onClick=${()=>c(d)}>✕</button>
        </li>`)}
    </ul>
  </nav>`}function vt({params:e}){let t=Object.entries(e||{});return f`<dl class="params">
    ${t.map(([n,s])=>f`<dt>${n}</dt><dd><pre>${typeof s=="string"?s:JSON.stringify(s,null,2)}</pre></dd>`)}
  </dl>`}function Kt({diff:e,truncated:t}){if(e==null)return f`<p class="muted">The change is too large to show.</p>`;let n=s=>s.startsWith("+++")||s.startsWith("---")?"file":s[0]==="+"?"add":s[0]==="-"?"del":s[0]==="@"?"hunk":"";return f`<pre class="diff">${e.replace(/\n$/,"").split(`
`).map(s=>f`<span class=${n(s)}>${s}</span>`)}</pre>
    ${t?f`<p class="muted">(diff cut)</p>`:null}`}function Vt({ask:e,act:t}){let[n,s]=h(""),[a,o]=h(null),l=(i,r)=>t(e.taskId,{action:i,approvalId:e.approvalId,...r?{text:r,feedback:r}:{}}).catch(o);return e.resolved?f`<div class="ask resolved" data-approval=${e.approvalId}>
      <strong>${e.kind==="followup"?"Question":"Approval"}</strong> ${e.text||e.tool}
      <span class="muted"> — ${e.resolved.action}${e.resolved.text?`: ${e.resolved.text}`:""}</span>
    </div>`:e.kind==="followup"?f`<div class="ask open" data-approval=${e.approvalId}>
      <p><strong>Question:</strong> ${e.text}</p>
      <div class="row">
        ${(e.suggestions||[]).map(i=>{let r=typeof i=="string"?i:i.text||i.answer;return f`<button class="suggestion" onClick=${()=>l("answer",r)}>${r}</button>`})}
      </div>
      <form class="row" onSubmit=${i=>(i.preventDefault(),l("answer",n))}>
        <input value=${n} onInput=${i=>s(i.target.value)} placeholder="Your answer" aria-label="Your answer" />
        <button type="submit">Answer</button>
      </form>
      <${j} error=${a} />
    </div>`:f`<div class="ask open" data-approval=${e.approvalId}>
    <p><strong>Approve ${e.tool||e.kind}?</strong></p>
    ${e.kind==="command"?f`<pre class="command">${e.text}</pre>`:f`<${vt} params=${e.params} />`}
    <div class="row">
      <button class="approve" onClick=${()=>l("approve",n)}>Approve</button>
      <button onClick=${()=>l("approve_always",n)}>Always</button>
      <input value=${n} onInput=${i=>s(i.target.value)} placeholder="Feedback (optional)" aria-label="Feedback" />
      <button class="deny" onClick=${()=>l("deny",n)}>Deny</button>
    </div>
    <${j} error=${a} />
  </div>`}function Jt({item:e,act:t}){switch(e.type){case"text":return e.kind==="reasoning"?f`<details class="reasoning"><summary>Reasoning</summary><p>${e.text}</p></details>`:f`<p class="assistant">${e.text}</p>`;case"tool":return f`<div class="tool" data-call=${e.callId}>
        <div class="tool-head"><code>${e.tool}</code>
          ${e.end?f`<span class=${e.end.isError?"bad":"good"}>${e.end.isError?"failed":"done"} (${e.end.durationMs} ms)</span>`:f`<span class="muted">running…</span>`}
        </div>
        ${e.tool==="execute_command"?f`<pre class="command">$ ${e.params.command}</pre>`:f`<details><summary>parameters</summary><${vt} params=${e.params} /></details>`}
        ${e.output?f`<pre class="output">${e.output}</pre>`:null}
        ${e.end&&e.end.data&&"diff"in e.end.data?f`<${Kt} diff=${e.end.data.diff} truncated=${e.end.data.diffTruncated} />`:null}
      </div>`;case"ask":return f`<${Vt} ask=${e} act=${t} />`;case"complete":return f`<div class="complete"><strong>Completed</strong><p>${e.result}</p></div>`;case"error":return f`<p class="error">${e.text}</p>`;default:return f`<p class="note muted">${e.text}</p>`}}function Gt({sessionId:e,disabled:t,onError:n}){let[s,a]=h([]),[o,l]=h("");P(()=>{U(`/sessions/${e}/modes`).then(r=>(a(r.modes||r.items||[]),l(r.defaultMode||"")),()=>a([]))},[e]);async function i(r){r.preventDefault();let u=new FormData(r.target),_={};u.get("mode")&&(_.mode=u.get("mode")),u.get("model").trim()&&(_.model=u.get("model").trim());try{await z(`/sessions/${e}/tasks`,{input:u.get("input"),config:_}),r.target.reset()}catch(c){n(c)}}return f`<form class="newtask" onSubmit=${i} aria-label="Start a task">
    <textarea name="input" required maxlength="10000" rows="3" placeholder="What should the agent do?" aria-label="What should the agent do?"></textarea>
    <div class="row">
      <label>Mode <select name="mode" aria-label="Mode" value=${o} onChange=${r=>l(r.target.value)}>${s.map(r=>f`<option value=${r.slug}>${r.name}</option>`)}</select></label>
      <label>Model <input name="model" placeholder="default" /></label>
      <button type="submit" disabled=${t}>Start task</button>
    </div>
  </form>`}function Yt({sessionId:e}){let[,t]=h(0),[n,s]=h("connecting"),[a,o]=h(null),l=Se(null),i=Se(null),[r,u]=h(""),[_,c]=h(qe);P(()=>{l.current=Pe();let b=0,A=()=>{b||(b=requestAnimationFrame(()=>(b=0,t(M=>M+1))))},R=new de(e,{onEvent:M=>(dt(l.current,M),A()),onHello:M=>{for(let y of M.state?.tasks||[]){let x=l.current.tasks.get(y.id)||{id:y.id,todos:[]};l.current.tasks.set(y.id,{...x,state:y.state,todos:y.todos?Te(y.todos):x.todos})}A()},onStatus:s});return i.current=R,R.open(),()=>(R.close(),b&&cancelAnimationFrame(b))},[e]);let d=l.current||Pe(),p=[...d.tasks.values()],$=p.filter(b=>Ae.has(b.state)),m=$[$.length-1]||p[p.length-1],k=(b,A)=>W(`/sessions/${e}/tasks/${b}`,A),g=()=>G(`/sessions/${e}/tasks/${m.id}`).catch(o);async function v(b){b.preventDefault();try{await k(m.id,{action:"message",text:r}),u("")}catch(A){o(A)}}let w=m?.usage?.usage||m?.usage?.taskUsage||null;return f`<section class="taskpanel">
    <div class="status row">
      <span class=${`dot ${n}`} data-status=${n}>${n}</span>
      ${m?f`<span>task <code>${m.id.slice(0,8)}</code>: <strong data-task-state=${m.state}>${m.state}</strong></span>`:null}
      ${w?f`<span class="muted">${w.inputTokens??w.input_tokens??0} in / ${w.outputTokens??w.output_tokens??0} out${w.cost!=null?` \xB7 $${Number(w.cost).toFixed(4)}`:""}</span>`:null}
      ${m&&Ae.has(m.state)?f`<button class="deny" onClick=${g}>Cancel task</button>`:null}
    </div>
    ${m?.todos?.length?f`<ul class="todos" aria-label="Todo list">${m.todos.map(b=>f`<li class=${b.status} data-todo=${b.status}>${b.content}</li>`)}</ul>`:null}
    <div class="timeline" aria-live="polite" data-event-count=${d.count} data-last-seq=${d.lastSeq}>
      ${d.items.length>_?f`<button class="link" onClick=${()=>c(_+qe)}>Show ${Math.min(qe,d.items.length-_)} earlier of ${d.items.length-_}</button>`:null}
      ${d.items.slice(-_).map(b=>f`<${Jt} key=${b.seq} item=${b} act=${k} />`)}
    </div>
    <${j} error=${a} />
    ${m&&m.state!=="queued"&&(Ae.has(m.state)||m.state==="completed")?f`<form class="row" onSubmit=${v}><input value=${r} onInput=${b=>u(b.target.value)} placeholder="Message the agent" aria-label="Message" required /><button type="submit">Send</button></form>`:null}
    ${m&&["failed","interrupted","cancelled"].includes(m.state)?f`<button onClick=${()=>k(m.id,{action:"resume"}).catch(o)}>Resume</button>`:null}
    <${Gt} sessionId=${e} disabled=${$.length>0} onError=${o} />
  </section>`}var yt=e=>`${(e/1048576).toFixed(1)} MiB`;function Qt({sessionId:e,onChange:t}){let[n,s]=h(null),[a,o]=h(null),[l,i]=h(null),r=()=>{U(`/sessions/${e}`).then(s,i),U(`/sessions/${e}/resources`).then(o,()=>o(null))};P(r,[e]);async function u(c){try{s(await W(`/sessions/${e}`,{state:c})),t()}catch(d){i(d)}}if(!n)return f`<${j} error=${l} />`;let _=n.state==="archived";return f`<div class="sessionhead row">
    <h1>${n.name}</h1>
    <span class="muted" data-session-state=${n.state}>${n.state}</span>
    ${a?f`<span class="muted" data-resources>disk ${yt(a.disk.usedBytes)} of ${yt(a.disk.limitBytes)} · ${a.disk.usedFiles} of ${a.disk.limitFiles} files · ${a.runningTasks} task(s) active</span>`:null}
    <span class="spacer"></span>
    <button class="link" onClick=${r} aria-label="Refresh the session" title="Refresh">↻</button>
    ${_?f`<button onClick=${()=>u("active")}>Restore</button>`:f`<button onClick=${()=>u("archived")}>Archive</button>`}
    <${j} error=${l} />
  </div>`}function Xt({sessionId:e,tab:t,onChange:n}){return f`<section class="session">
    <${Qt} sessionId=${e} onChange=${n} />
    <div class="tabs" role="tablist">
      <a role="tab" aria-selected=${t==="task"} href=${`#/s/${e}`}>Tasks</a>
      <a role="tab" aria-selected=${t==="files"} href=${`#/s/${e}/files`}>Files</a>
    </div>
    ${t==="files"?f`<${_t} sessionId=${e} />`:f`<${Yt} sessionId=${e} />`}
  </section>`}function Zt(){let[e,t]=h(null),[n,s]=h(()=>ct()||pe()),[a,o]=h(0),{sessionId:l,tab:i}=zt();if(P(()=>{rt(()=>t(null)),n&&(it()?U("/auth/profile"):J()).then(t,()=>t(null)).finally(()=>s(!1))},[]),n)return f`<p class="muted">Signing in…</p>`;if(!e)return f`<${Wt} onSignedIn=${t} />`;async function r(){await pt(),location.hash="#/",t(null)}return f`<div class="shell">
    <header class="row">
      <strong>roo console</strong>
      <span class="spacer"></span>
      <a href="#/account" class="muted" data-user>${e.email}</a>
      <button onClick=${r}>Sign out</button>
    </header>
    <div class="main">
      <${Bt} current=${l} version=${a} onChange=${()=>o(u=>u+1)} />
      ${i==="account"?f`<${mt} />`:l?f`<${Xt} key=${l} sessionId=${l} tab=${i} onChange=${()=>o(u=>u+1)} />`:f`<p class="muted empty">Pick or create a session.</p>`}
    </div>
  </div>`}Ke(f`<${Zt} />`,document.getElementById("app"));export{j as ErrorLine};
