graph [
  directed 0
  node [
    id 0
    label "TP53"
  ]
  node [
    id 1
    label "MDM2"
  ]
  node [
    id 2
    label "CDKN1A"
  ]
  node [
    id 3
    label "KRAS"
  ]
  node [
    id 4
    label "BRAF"
  ]
  edge [
    source 0
    target 1
    weight 0.999
  ]
  edge [
    source 0
    target 2
    weight 0.987
  ]
  edge [
    source 3
    target 4
    weight 0.996
  ]
]
